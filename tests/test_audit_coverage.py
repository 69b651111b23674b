"""Every route × action writes the audit entries in tests/audit_table.py, and none answers
client data without its entry, or at all when the entry cannot be written.

The pairs come from the URL resolver (tests/routes.py: GET reads, an unsafe method changes,
and every route can be refused) and the API's OpenAPI schema (by operation id), so a route
added tomorrow fails test_every_route_and_action_is_in_the_table until the table says what it
writes. Each pair is requested on the test world's real objects, as someone allowed or not,
reusing the permission matrix's requests where it has them. The entries written under the
request's id must be exactly the table's; an allowed request on a client's data must name
that client; a refused one must name nobody as allowed; and a response showing any client's
name or record number must have an entry for that client behind it (or a list read that
covers it).

Then the trail is made to fail for real: a database trigger refuses every insert into the
audit table. Every pair that writes an entry must answer 503 with AuditWriteFailed's sentence
(JSON `{"detail": …}` on the API), show no client data, and leave every table as it was
(hashed before and after, as in tests/test_csrf.py): the entry and what it records stand or
fall together. That test commits for real (no test transaction around the request), so a
write made outside the audited transaction would show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string

from alliance.accounts.actions import SETTINGS_FIELDS
from alliance.accounts.models import clinic_settings
from alliance.agency.models import ClientView, KeptThanks, RelapsePlan, Thanks
from alliance.alerts.checklist import CHECKLIST_KEYS
from alliance.alerts.models import Alert
from alliance.api import schema
from alliance.audit.log import AuditWriteFailed
from alliance.audit.models import AuditEntry, Outcome
from alliance.backup.content import Reader, TableDigest, digest_tables
from alliance.clients.models import CareRole, CareTeamMember, Client, Episode, Phase
from alliance.journal import crypto
from alliance.journal.access import Content
from alliance.journal.actions import DELETE_ALL_WORDS, create_entry
from alliance.measures.actions import do_create_link
from alliance.measures.actions import find as find_link
from alliance.reports.stories import offer_story
from conftest import ADMIN_TOTP_SECRET, PASSWORD, World, build_world, signed_in
from tests import test_permission_matrix as matrix
from tests.audit_table import (
    API,
    BANNER,
    CHANGE,
    GAPS,
    LIST_READS,
    PAGES,
    READ,
    REFUSED,
    UNAUDITED_CHANGES,
    Expect,
)
from tests.routes import site_routes

# A client on the clinician's caseload with no alert: the risk banner never names them, so a
# page listing them without an audit entry of its own is caught.
QUIET = ("Canary Quiet-Finch", "CANARY-QUIET-005")
PLAN_CANARY = "Canary plan: ring Wren-Lighthouse"
JOURNAL_CANARY = "Canary journal: the Osprey session stayed with me"
# The session row and its idle clock move on every request.
NOT_STATE = {"accounts_signinsession"}


# --- which route × action pairs there are -------------------------------------------------------


def page_pairs() -> list[tuple[str, str]]:
    pairs = []
    for route in site_routes():
        if "GET" in route.methods:
            pairs.append((route.name, READ))
        if route.unsafe:
            pairs.append((route.name, CHANGE))
        pairs.append((route.name, REFUSED))
    return pairs


@cache
def api_operations() -> dict[str, tuple[str, str]]:
    """Operation id -> (method, path), from the OpenAPI schema (built once: it is slow)."""
    return {
        op["operationId"]: (method, path)
        for path, item in schema()["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def api_pairs() -> list[tuple[str, str]]:
    pairs = []
    for op_id, (method, _) in sorted(api_operations().items()):
        pairs += [(op_id, READ if method == "get" else CHANGE), (op_id, REFUSED)]
    return pairs


def table() -> dict[tuple[str, str], Expect]:
    return PAGES | API


# --- one request per pair ----------------------------------------------------------------------


@dataclass
class Call:
    who: str  # "anonymous", or the World attribute of the member who asks
    method: str  # "get" or "post"
    url: str
    data: dict[str, Any] = field(default_factory=dict)
    client: Client | None = None  # whose data it reads or changes (refused: would have)
    api: bool = False
    # A step before the request (the password step before a code); returns data to add.
    start: Callable[[HttpClient], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    json: Any
    entries: list[AuditEntry]
    streamed: bool  # produced after the request's batch of audit entries was written


def audit_world() -> World:
    world = build_world()
    quiet = Client.objects.create(
        organisation=world.org, team=world.team, display_name=QUIET[0], record_number=QUIET[1]
    )
    CareTeamMember.objects.create(
        organisation=world.org,
        client=quiet,
        membership=world.clinician,
        discipline=world.clinician.discipline,
        care_role=CareRole.LEAD,
    )
    return world


def prepare(world: World, route: str, action: str) -> tuple[Call, HttpClient]:
    """The pair's request and a session to send it from, with any step before it taken."""
    call = build_call(route, action, world)
    http = HttpClient() if call.who == "anonymous" else signed_in(getattr(world, call.who))
    if call.start is not None:
        call.data = {**call.data, **call.start(http)}
    return call, http


def send(http: HttpClient, call: Call) -> Answer:
    if call.api and call.method != "get":
        response = http.post(call.url, call.data, content_type="application/json")
    else:
        response = getattr(http, call.method)(call.url, call.data)
    entries = AuditEntry.objects.filter(request_id=response["X-Request-ID"]).order_by("pk")
    body = response.getvalue().decode(errors="replace")  # a streamed body too
    is_json = response.get("Content-Type", "").startswith("application/json")
    json = response.json() if is_json else None
    return Answer(response.status_code, body, json, [*entries], response.streaming)


def perform(world: World, route: str, action: str) -> tuple[Call, Answer]:
    call, http = prepare(world, route, action)
    return call, send(http, call)


def build_call(route: str, action: str, world: World) -> Call:
    """The request for one pair, on the world's objects; the permission matrix's where it has
    one (client routes and API operations), else SPECIAL's."""
    operation = api_operations().get(route)
    if operation is not None:
        return _api_call(*operation, action, world)
    if route in SPECIAL:
        return SPECIAL[route](world, action)
    spec = matrix.ROUTES.get(route)
    if spec is not None and spec.kind == "plain" and spec.method == "GET":
        return _plain(route)(world, action)  # a page about no one client, for the clinician
    if spec is None or spec.kind != "client":
        raise LookupError(f"{route}: no request for it in the matrix's ROUTES or in SPECIAL")
    refused = action == REFUSED
    url, data = matrix._client_route_request(route, world, "other_team" if refused else "own")
    call = Call(_member_for(route), spec.method.lower(), url, data)
    call.client = world.other_team_client if refused else world.own_client
    if not refused and route in VALID:
        VALID[route](world, call)
    return call


def _api_call(method: str, path: str, action: str, world: World) -> Call:
    kind = matrix.API_OPERATIONS.get((method, path))
    if kind is None:
        raise LookupError(f"{method.upper()} {path}: not in the matrix's API_OPERATIONS")
    refused = action == REFUSED
    if kind == "report":  # refused: a role the clinic does not let run it (403)
        url, body = matrix._api_request(method, path, world, "own")
        return Call("clinician" if refused else "coordinator", method, url, body, api=True)
    if refused and kind != "client":
        url, body = matrix._api_request(method, path, world, "own")
        return Call("anonymous", method, url, body, api=True)  # 401
    url, body = matrix._api_request(method, path, world, "other_team" if refused else "own")
    client = world.other_team_client if refused else world.own_client
    who = _member_for((method, path))
    return Call(who, method, url, body, client if kind == "client" else None, api=True)


def _member_for(route: object) -> str:
    """Who on the client's care team may make the change (some are the consultant's alone)."""
    return "consultant" if route in getattr(matrix, "CONSULTANT_ONLY", ()) else "clinician"


def _plan_in_ending(world: World, call: Call) -> None:
    """The relapse-prevention plan is written in the ending phase."""
    Episode.objects.filter(pk=world.own_episode.pk).update(phase=Phase.ENDING)


def _episode_for_quiet(world: World, call: Call) -> None:
    """The world's client has an open episode already; the quiet client has none."""
    call.client = Client.objects.get(record_number=QUIET[1])
    call.url = reverse("episode_open", args=[call.client.pk])


def _resolve_with_checklist(world: World, call: Call) -> None:
    """A risk alert is resolved with every step of its checklist done."""
    call.data = call.data | {"checklist": CHECKLIST_KEYS}


# Where the permission matrix's request is refused even when allowed, what makes it valid.
VALID: dict[str, Callable[[World, Call], None]] = {
    "relapse_plan_save": _plan_in_ending,
    "episode_open": _episode_for_quiet,
    "alert_resolve": _resolve_with_checklist,
}


def _plain(name: str, change: dict[str, Any] | None = None) -> Callable[[World, str], Call]:
    """A page about no one client: the clinician asks; anonymous is refused."""

    def call(world: World, action: str) -> Call:
        methods = next(r.methods for r in site_routes() if r.name == name)
        post = action == CHANGE or "GET" not in methods
        data = dict(change or {}) if post else {}
        return Call(
            "anonymous" if action == REFUSED else "clinician",
            "post" if post else "get",
            reverse(name),
            data,
        )

    return call


def _login(world: World, action: str) -> Call:
    if action == READ:
        return Call("anonymous", "get", reverse("login"))
    password = PASSWORD if action == CHANGE else "not-the-password"
    data = {"username": "clinician", "password": password}
    return Call("anonymous", "post", reverse("login"), data)


def _password_step(http: HttpClient) -> dict[str, Any]:
    response = http.post(reverse("login"), {"username": "orgadmin", "password": PASSWORD})
    assert response["Location"] == reverse("login_code")
    return {}


def _code(secret: str, *, right: bool) -> str:
    totp = pyotp.TOTP(secret)
    now = timezone.now()
    if right:
        return str(totp.at(now))
    near = {totp.at(now + timedelta(seconds=30 * drift)) for drift in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222") if code not in near)


def _login_code(world: World, action: str) -> Call:
    if action == READ:
        return Call("anonymous", "get", reverse("login_code"), start=_password_step)
    data = {"code": _code(ADMIN_TOTP_SECRET, right=action == CHANGE)}
    return Call("anonymous", "post", reverse("login_code"), data, start=_password_step)


def _two_factor(world: World, action: str) -> Call:
    url = reverse("two_factor")

    def with_code(http: HttpClient) -> dict[str, Any]:
        http.get(url)  # the page keeps a new secret in the session until a code confirms it
        return {"code": _code(http.session["totp_setup_secret"], right=True)}

    if action == CHANGE:
        return Call("clinician", "post", url, start=with_code)
    return Call("anonymous" if action == REFUSED else "clinician", "get", url)


def _manage(
    name: str, change: Callable[[World], dict[str, Any]] | None = None
) -> Callable[[World, str], Call]:
    """An admin page: the admin asks; a clinician is refused by role."""

    def call(world: World, action: str) -> Call:
        url = reverse(name, args=[world.colleague.pk] if name == "manage_user_edit" else [])
        if action == CHANGE:
            assert change is not None
            return Call("admin", "post", url, change(world))
        return Call("clinician" if action == REFUSED else "admin", "get", url)

    return call


def _clinic_settings(world: World) -> dict[str, Any]:
    """The settings as they are (whatever fields the form has today), with new contacts."""
    current = clinic_settings(world.org.pk)
    data = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    return data | {"crisis_contacts": "Call 111, day and night.", "version": current.version}


def _new_user(world: World) -> dict[str, Any]:
    return {
        "username": "newcomer",
        "full_name": "New Comer",
        "role": "clinician",
        "discipline": "psychology",
        "password": "a-long-enough-password",
    }


def _role_change(world: World) -> dict[str, Any]:
    return {
        "role": "clinician",
        "discipline": "nursing",
        "is_active": "on",
        "teams": [world.team.pk],
    }


def _own_link(world: World) -> str:
    """A link for the client's session, with their plan and own view ready behind it."""
    now = timezone.now()
    RelapsePlan.objects.get_or_create(
        episode=world.own_episode,
        defaults={
            "organisation": world.org,
            "client": world.own_client,
            "warning_signs": PLAN_CANARY,
            "what_helps": "Walking",
            "who_to_contact": "My sister",
            "what_to_do": "Call the clinic",
            "updated_at": now,
            "updated_by": world.clinician,
        },
    )
    ClientView.objects.update_or_create(
        client=world.own_client,
        defaults={
            "organisation": world.org,
            "enabled": True,
            "changed_at": now,
            "changed_by": world.clinician,
        },
    )
    _, token = do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    return token


def _token(name: str) -> Callable[[World, str], Call]:
    """The client's side, opened with their link; refused: a token that opens nothing."""

    def call(world: World, action: str) -> Call:
        if action == REFUSED:
            return Call("anonymous", "get", reverse(name, args=["x" * 43]))
        url = reverse(name, args=[_own_link(world)])
        if action == CHANGE:
            answers = {f"phq9__item{n}": "1" for n in range(1, 10)}
            answers |= {f"gad7__item{n}": "1" for n in range(1, 8)}
            return Call("anonymous", "post", url, answers, world.own_client)
        return Call("anonymous", "get", url, client=world.own_client)

    return call


def _story_link(name: str) -> Callable[[World, str], Call]:
    """The client's story page, by their link: they read it, offer a story, withdraw one;
    refused: a token that opens nothing."""

    def call(world: World, action: str) -> Call:
        token = _own_link(world)
        if name == "client_story_withdraw":  # refused: the client's real story, a wrong token
            story = offer_story(find_link(token), "The walks helped me", consent=True)
            if action == REFUSED:
                return Call("anonymous", "post", reverse(name, args=["x" * 43, story.pk]))
            url = reverse(name, args=[token, story.pk])
            return Call("anonymous", "post", url, {}, world.own_client)
        if action == REFUSED:
            return Call("anonymous", "get", reverse(name, args=["x" * 43]))
        url = reverse(name, args=[token])
        if action == CHANGE:
            words = {"words": "Walking helped me", "consent": "on"}
            return Call("anonymous", "post", url, words, world.own_client)
        return Call("anonymous", "get", url, client=world.own_client)

    return call


def _report(name: str) -> Callable[[World, str], Call]:
    """The outcome report as it opens (the last twelve months by team): a coordinator runs it;
    refused: a clinician, whose role the clinic's report_roles leave out by default."""

    def call(world: World, action: str) -> Call:
        return Call("clinician" if action == REFUSED else "coordinator", "get", reverse(name))

    return call


def _journal(name: str) -> Callable[[World, str], Call]:
    """One of the clinician's journal entries; refused: a colleague asks for it."""

    def call(world: World, action: str) -> Call:
        entry = create_entry(world.actor(world.clinician), Content(text=JOURNAL_CANARY))
        url = reverse(name, args=[entry.pk])
        if action == REFUSED:
            return Call("colleague", "get", url)
        if action == READ:
            return Call("clinician", "get", url)
        edit = {"text": "Rewritten", "version": "1", "prompt": "", "tags": "", "client": ""}
        return Call("clinician", "post", url, edit if name == "journal_entry" else {})

    return call


def _kept_forget(world: World, action: str) -> Call:
    """A thank-you the clinician kept; refused: a colleague tries to remove it."""
    kept = KeptThanks.objects.create(
        user=world.clinician.user,
        message="Thank you",
        initials="C.O.",
        received=timezone.localdate().replace(day=1),
        source=get_random_string(64),
        kept_at=timezone.now(),
    )
    who = "colleague" if action == REFUSED else "clinician"
    return Call(who, "post", reverse("kept_forget", args=[kept.pk]))


def _gratitude(world: World, action: str) -> Call:
    """A thank-you addressed to the clinician waits on the page."""
    Thanks.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        to=world.clinician,
        message="Thank you for the walks",
        created_at=timezone.now(),
    )
    return _plain("gratitude")(world, action)


SPECIAL: dict[str, Callable[[World, str], Call]] = {
    "home": _plain("home"),
    "healthz": _plain("healthz"),
    "login": _login,
    "login_code": _login_code,
    "logout": _plain("logout"),
    "two_factor": _two_factor,
    "client_new": _plain(
        "client_new", {"display_name": "Canary New-Wren", "record_number": "CANARY-NEW-004"}
    ),
    "pending_links": _plain("pending_links"),
    "api_tokens": _plain("api_tokens", {"name": "audit test"}),
    "manage_users": _manage("manage_users"),
    "manage_user_new": _manage("manage_user_new", _new_user),
    "manage_user_edit": _manage("manage_user_edit", _role_change),
    "manage_teams": _manage("manage_teams", lambda world: {"name": "East team"}),
    "manage_settings": _manage("manage_settings", _clinic_settings),
    "manage_disciplines": _manage("manage_disciplines", lambda world: {"label": "Dietetics"}),
    "measure_link": _token("measure_link"),
    "client_own": _token("client_own"),
    "client_plan_pdf": _token("client_plan_pdf"),
    "journal": _plain("journal"),
    "journal_new": _plain("journal_new", {"text": "A new entry", "prompt": ""}),
    "journal_export": _plain("journal_export"),
    "journal_delete_all": _plain("journal_delete_all", {"confirm": DELETE_ALL_WORDS}),
    "journal_entry": _journal("journal_entry"),
    "journal_entry_delete": _journal("journal_entry_delete"),
    "wellbeing": _plain("wellbeing", {"energy": "6", "load": "4", "meaning": "7", "support": "5"}),
    "wellbeing_rhythm": _plain("wellbeing_rhythm", {"rhythm_days": "7", "prompts_on": "on"}),
    "gratitude": _gratitude,
    "gratitude_settings": _plain("gratitude_settings", {"enabled": "on"}),
    "kept_forget": _kept_forget,
    "outcome_report": _report("outcome_report"),
    "outcome_report_csv": _report("outcome_report_csv"),
    "outcome_report_pdf": _report("outcome_report_pdf"),
    "client_story": _story_link("client_story"),
    "client_story_withdraw": _story_link("client_story_withdraw"),
}


# --- what a request wrote, and what it showed ----------------------------------------------------


def canaries(world: World) -> dict[int, list[str]]:
    """Each client's name and record number: shown only with an entry for that client."""
    clients = Client.objects.filter(organisation__in=[world.org, world.other_org])
    return {c.pk: [c.display_name, c.record_number] for c in clients}


def covered(entries: list[AuditEntry]) -> set[int] | None:
    """The clients the allowed entries account for (None: every client the user may see)."""
    ids: set[int] = set()
    for entry in entries:
        if entry.outcome != Outcome.OK:
            continue
        if entry.action in LIST_READS:
            return None
        if entry.client_id is not None:
            ids.add(entry.client_id)
        if entry.action == BANNER:
            alerts = Alert.objects.filter(pk__in=entry.detail.get("alerts", []))
            ids |= set(alerts.values_list("client_id", flat=True))
        if entry.action == "thanks.list":
            thanks = Thanks.objects.filter(pk__in=entry.detail.get("thanks", []))
            ids |= set(thanks.values_list("client_id", flat=True))
    return ids


def problems(world: World, pair: tuple[str, str], call: Call, got: Answer) -> list[str]:
    action = pair[1]
    expect = table()[pair]
    wrote = [f"{e.action}:{e.outcome}" for e in got.entries]
    found = []
    if got.status >= 500:
        found.append(f"answered {got.status}")
    actions = {e.action for e in got.entries}
    if actions != expect.actions:
        missing, extra = sorted(expect.actions - actions), sorted(actions - expect.actions)
        found.append(f"wrote {wrote}: missing {missing}, not in the table {extra}")
    allowed = [e for e in got.entries if e.outcome == Outcome.OK]
    touched = call.client.pk if call.client else None
    if touched and action != REFUSED and not any(e.client_id == touched for e in allowed):
        found.append(f"no allowed entry names the client it touched (wrote {wrote})")
    if touched and action == REFUSED and any(e.client_id == touched for e in allowed):
        found.append("a refused request wrote an allowed entry naming the client")
    if touched and action == REFUSED and all(e.outcome == Outcome.OK for e in got.entries):
        found.append(f"the refusal is not written as denied or failed (wrote {wrote})")
    if touched and got.streamed:
        found.append("streams client data: what it reads while streaming is audited too late")
    return found + _shown_problems(world, pair, touched, got)


def _shown_problems(
    world: World, pair: tuple[str, str], touched: int | None, got: Answer
) -> list[str]:
    """Client names and record numbers in the answer, each with an entry accounting for it."""
    found, unaccounted = [], []
    accounted = covered(got.entries)
    for client_id, words in canaries(world).items():
        shown = [w for w in words if w in got.body]
        if pair[1] == REFUSED and client_id == touched and shown:
            found.append(f"a refused request showed {shown}")
        elif shown and accounted is not None and client_id not in accounted:
            unaccounted.append(f"showed {shown} with no audit entry that accounts for that client")
    if pair in GAPS and not unaccounted:
        found.append("the known gap is closed: remove it from GAPS in tests/audit_table.py")
    return found + ([] if pair in GAPS else unaccounted)


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def journal_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Journal pages need a key: this run's own, never var/'s."""
    path = tmp_path / "journal.keys"
    path.write_text(Fernet.generate_key().decode("ascii") + "\n", encoding="utf-8")
    monkeypatch.delenv(crypto.ENV_NAME, raising=False)
    monkeypatch.setenv(f"{crypto.ENV_NAME}_FILE", str(path))
    crypto.forget_keys()
    yield
    crypto.forget_keys()


def _by_route(pairs: set[tuple[str, str]]) -> str:
    routes: dict[str, list[str]] = {}
    for route, action in sorted(pairs):
        routes.setdefault(route, []).append(action)
    return "; ".join(f"{route} ({', '.join(actions)})" for route, actions in routes.items())


def test_every_route_and_action_is_in_the_table(capsys):
    known = set(page_pairs()) | set(api_pairs())
    with capsys.disabled():
        routes, operations = len({r for r, _ in page_pairs()}), len(api_operations())
        print(
            f"\naudit coverage: {routes} URL routes and {operations} API operations enumerated,"
            f" {len(known)} route × action pairs; the table describes {len(set(table()) & known)}"
        )
    missing, stale = _by_route(known - set(table())), _by_route(set(table()) - known)
    assert not missing, f"add to tests/audit_table.py what these routes write: {missing}"
    assert not stale, f"tests/audit_table.py describes routes nobody serves: {stale}"
    for pair, expect in table().items():
        assert expect.actions or expect.reason, f"{pair} writes nothing and does not say why"


@pytest.mark.django_db
def test_every_route_and_action_writes_the_entries_in_the_table(capsys):
    world = audit_world()
    failures: dict[tuple[str, str], list[str]] = {}
    for pair in table():
        with transaction.atomic():  # each pair on the same world, undone afterwards
            try:
                call, got = perform(world, *pair)
                found = problems(world, pair, call, got)
            except Exception as exc:
                found = [f"raised {type(exc).__name__}: {exc}"]
            transaction.set_rollback(True)
        if found:
            failures[pair] = found
    with capsys.disabled():
        print(f"\naudit table: {len(table())} route × action pairs checked")
    assert not failures, "\n".join(f"{p[0]} {p[1]}: {'; '.join(f)}" for p, f in failures.items())


# --- when the audit entry cannot be written ------------------------------------------------------

REFUSE_INSERTS = {
    "sqlite": [
        """CREATE TRIGGER audit_test_refuse_insert BEFORE INSERT ON audit_auditentry
           BEGIN SELECT RAISE(ABORT, 'audit trail unavailable (test)'); END"""
    ],
    "postgresql": [
        """CREATE FUNCTION audit_test_refuse_insert() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit trail unavailable (test)'; END; $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_test_refuse_insert BEFORE INSERT ON audit_auditentry
           FOR EACH ROW EXECUTE FUNCTION audit_test_refuse_insert()""",
    ],
}
ALLOW_INSERTS = {
    "sqlite": ["DROP TRIGGER audit_test_refuse_insert"],
    "postgresql": [
        "DROP TRIGGER audit_test_refuse_insert ON audit_auditentry",
        "DROP FUNCTION audit_test_refuse_insert()",
    ],
}


@contextmanager
def audit_inserts_refused() -> Iterator[None]:
    """The database itself refuses every new audit entry, as a full disk or a revoked grant
    would: nothing in the application is patched."""
    with connection.cursor() as cursor:
        for statement in REFUSE_INSERTS[connection.vendor]:
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in ALLOW_INSERTS[connection.vendor]:
                cursor.execute(statement)


def _state() -> dict[str, TableDigest]:
    return digest_tables(Reader(connection.cursor(), connection.vendor), skip=NOT_STATE)


def _every_canary(world: World) -> list[str]:
    names = [word for words in canaries(world).values() for word in words]
    return [*names, PLAN_CANARY, JOURNAL_CANARY]


def failed_audit_problems(world: World, pair: tuple[str, str]) -> tuple[list[str], bool]:
    """What is wrong with the pair's answer while the trail refuses writes, and whether the
    same read, with the trail working, showed client data (so that hiding it means something)."""
    shown = False
    if pair[1] == READ:
        _, control = perform(world, *pair)
        shown = any(canary in control.body for canary in _every_canary(world))
    call, http = prepare(world, *pair)
    before = _state()
    with audit_inserts_refused():
        got = send(http, call)
    after = _state()
    found = []
    if got.status != 503:
        found.append(f"answered {got.status}, not 503")
    if call.api and got.json != {"detail": AuditWriteFailed.detail}:
        found.append(f"answered {got.body[:200]!r}")
    if not call.api and (AuditWriteFailed.detail not in got.body or "Traceback" in got.body):
        found.append(f"answered {got.body[:200]!r}")
    leaked = [canary for canary in _every_canary(world) if canary in got.body]
    if leaked:
        found.append(f"showed {leaked}")
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    allowed = set(UNAUDITED_CHANGES.get(pair, {}))
    if changed - allowed:
        found.append(f"changed {sorted(changed - allowed)}")
    if allowed - changed:
        found.append(f"no longer changes {sorted(allowed - changed)}: narrow UNAUDITED_CHANGES")
    return found, shown


def test_when_the_audit_entry_cannot_be_written_the_request_fails_showing_and_changing_nothing(
    committed_db, capsys
):
    world = audit_world()
    audited = [pair for pair, expect in table().items() if expect.actions]
    failures: dict[tuple[str, str], list[str]] = {}
    reads_hidden = 0
    for pair in audited:
        try:
            found, shown = failed_audit_problems(world, pair)
        except Exception as exc:
            found, shown = [f"raised {type(exc).__name__}: {exc}"], False
        reads_hidden += shown
        if found:
            failures[pair] = found
    with capsys.disabled():
        print(
            f"\naudit down: {len(audited)} audited route × action pairs answered 503 and changed"
            f" nothing; {reads_hidden} of them are reads that show client data when it is up"
        )
    assert not failures, "\n".join(f"{p[0]} {p[1]}: {'; '.join(f)}" for p, f in failures.items())
    assert reads_hidden >= 10  # the canary check has something to hide
