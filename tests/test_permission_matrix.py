"""Every route and API operation × every role × own / other team's / other clinic's client.

The routes are read from the URL resolver and the API schema, so a new endpoint that is not
described in ROUTES or API_OPERATIONS fails test_every_route_is_in_the_matrix. Each response is
checked for its status and for canary strings (names and record numbers) of clients the user
may not see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from alliance.alerts.checklist import CHECKLIST_KEYS
from alliance.api import schema
from conftest import World, build_world, signed_in

ROLES = ["anonymous", "clinician", "colleague", "coordinator", "consultant", "admin", "outsider"]
TARGETS = ["own", "other_team", "other_org"]
# Which targets each role may see (the canary rule): the rest must never appear in a response.
SEES = {
    "anonymous": set(),
    "clinician": {"own"},
    "colleague": {"other_team"},
    "coordinator": {"own"},
    "consultant": {"own"},
    "admin": set(),
    "outsider": {"other_org"},
}
CLINICAL = {"clinician", "colleague", "coordinator", "consultant", "outsider"}


@dataclass(frozen=True)
class Route:
    method: str
    # "client" (takes a target client), "plain", "manage", "membership", "token" (a client's
    # link, no account), "report" (the de-identified outcome report: the roles the clinic
    # chooses), or "journal" (takes a journal entry; tested for every role in
    # alliance/journal/tests/test_journal_access.py)
    kind: str
    ok: int = 200  # status when allowed


ROUTES: dict[str, Route] = {
    "home": Route("GET", "plain"),
    "healthz": Route("GET", "plain"),
    "login": Route("GET", "plain"),
    "login_code": Route("GET", "plain"),
    "logout": Route("POST", "plain"),
    "two_factor": Route("GET", "plain"),
    "client_new": Route("GET", "plain"),
    "client": Route("GET", "client"),
    "care_team_add": Route("POST", "client", ok=302),
    "care_team_end": Route("POST", "client", ok=302),
    "episode_open": Route("POST", "client", ok=302),
    "episode_close": Route("POST", "client", ok=302),
    "encounter_new": Route("POST", "client", ok=302),
    "encounter_attendance": Route("POST", "client", ok=302),
    "manage_users": Route("GET", "manage"),
    "manage_user_new": Route("GET", "manage"),
    "manage_teams": Route("GET", "manage"),
    "manage_user_edit": Route("GET", "membership"),
    "manage_settings": Route("GET", "manage"),
    "manage_disciplines": Route("GET", "manage"),
    "session_measures": Route("GET", "client"),
    "link_create": Route("POST", "client"),  # answers with the page showing the new link
    "pending_links": Route("GET", "plain"),
    "alert": Route("GET", "client"),
    "alert_acknowledge": Route("POST", "client", ok=302),
    "alert_resolve": Route("POST", "client", ok=302),
    "measure_link": Route("GET", "token"),
    "plan_edit": Route("POST", "client", ok=302),
    "api_tokens": Route("GET", "plain"),
    "client_chart": Route("GET", "client"),
    "client_chart_pdf": Route("GET", "client"),
    "journal": Route("GET", "plain"),
    "journal_new": Route("GET", "plain"),
    "journal_export": Route("GET", "plain"),
    "journal_delete_all": Route("GET", "plain"),
    "journal_entry": Route("GET", "journal"),
    "journal_entry_delete": Route("GET", "journal"),
    "wellbeing": Route("GET", "plain"),
    "wellbeing_rhythm": Route("POST", "plain"),
    "client_goals": Route("GET", "client"),
    "goal_add": Route("POST", "client", ok=302),
    "goal_revise": Route("POST", "client", ok=302),
    "goal_retire": Route("POST", "client", ok=302),
    "goal_rate": Route("POST", "client", ok=302),
    "moment_add": Route("POST", "client", ok=302),
    "own_view_set": Route("POST", "client", ok=302),
    "thanks_keep": Route("POST", "client", ok=302),
    "episode_ending": Route("GET", "client"),
    "episode_phase": Route("POST", "client", ok=302),
    "episode_review": Route("POST", "client", ok=302),
    # The world's episodes are in engagement: the plan is refused with the form's error.
    "relapse_plan_save": Route("POST", "client", ok=400),
    "gratitude": Route("GET", "plain"),
    "gratitude_settings": Route("POST", "plain"),
    # One clinician's kept thank-you: tested for every role in alliance/agency/tests.
    "kept_forget": Route("POST", "kept"),
    "client_own": Route("GET", "token"),
    "client_plan_pdf": Route("GET", "token"),
    "care_plan": Route("GET", "client"),
    "needs_save": Route("POST", "client", ok=302),
    "care_item_add": Route("POST", "client", ok=302),
    "care_item_edit": Route("POST", "client", ok=302),
    "consent_add": Route("POST", "client", ok=302),
    "consent_withdraw": Route("POST", "client", ok=302),
    "relationship_add": Route("POST", "client", ok=302),
    "relationship_end": Route("POST", "client", ok=302),
    "handoff_add": Route("POST", "client", ok=302),
    "handoff": Route("GET", "client"),
    "review_flag": Route("POST", "client", ok=302),
    "review_acknowledge": Route("POST", "client", ok=302),
    "review": Route("GET", "client"),  # a consultant sees it through their team
    "review_recommend": Route("POST", "client", ok=302),  # consultants only: 400 for others
    "registry": Route("GET", "plain"),
    "registry_csv": Route("GET", "plain"),
    "reviews": Route("GET", "plain"),
    # The outcome report: no GET parameters run the default (last twelve months by team).
    "outcome_report": Route("GET", "report"),
    "outcome_report_csv": Route("GET", "report"),
    "outcome_report_pdf": Route("GET", "report"),
    # Consented stories: the care team reviews them, the client offers them from their link.
    "client_stories": Route("GET", "client"),
    "story_review": Route("POST", "client", ok=302),
    "story_withdraw": Route("POST", "client", ok=302),
    "client_story": Route("GET", "token"),
    "client_story_withdraw": Route("POST", "token"),
}
# The journal and the wellbeing pages belong to one clinical member each: an admin is refused.
JOURNAL_PAGES = {"journal", "journal_new", "journal_export", "journal_delete_all", "wellbeing"}

API_OPERATIONS = {
    ("get", "/api/me"): "plain",
    ("get", "/api/clients"): "list",
    ("get", "/api/clients/{client_id}"): "client",
    ("get", "/api/clients/{client_id}/episodes"): "client",
    ("get", "/api/episodes/{episode_id}/encounters"): "client",
    ("post", "/api/episodes/{episode_id}/encounters"): "client",
    ("post", "/api/encounters/{encounter_id}/attendance"): "client",
    ("post", "/api/encounters/{encounter_id}/links"): "client",
    ("get", "/api/clients/{client_id}/responses"): "client",
    ("get", "/api/alerts"): "alerts",
    ("get", "/api/alerts/{alert_id}"): "client",
    ("post", "/api/alerts/{alert_id}/acknowledge"): "client",
    ("post", "/api/alerts/{alert_id}/resolve"): "client",
    ("post", "/api/fhir/QuestionnaireResponse"): "client",  # the subject is the target client
    ("get", "/api/clients/{client_id}/goals"): "client",
    ("post", "/api/clients/{client_id}/goals"): "client",
    ("post", "/api/goals/{goal_id}/ratings"): "client",
    ("get", "/api/clients/{client_id}/moments"): "client",
    ("post", "/api/clients/{client_id}/moments"): "client",
    ("post", "/api/episodes/{episode_id}/phase"): "client",
    ("get", "/api/clients/{client_id}/needs"): "client",
    ("post", "/api/clients/{client_id}/needs"): "client",
    ("get", "/api/clients/{client_id}/care-items"): "client",
    ("post", "/api/clients/{client_id}/care-items"): "client",
    ("post", "/api/care-items/{item_id}"): "client",
    ("get", "/api/clients/{client_id}/consents"): "client",
    ("post", "/api/clients/{client_id}/consents"): "client",
    ("post", "/api/clients/{client_id}/consents/{consent_id}/withdraw"): "client",
    ("get", "/api/clients/{client_id}/relationships"): "client",
    ("post", "/api/clients/{client_id}/relationships"): "client",
    ("get", "/api/clients/{client_id}/handoffs"): "client",
    ("post", "/api/clients/{client_id}/handoffs"): "client",
    ("get", "/api/registry"): "plain",
    ("get", "/api/reviews"): "plain",
    ("post", "/api/clients/{client_id}/reviews"): "client",
    ("post", "/api/reviews/{review_id}/recommendation"): "client",  # consultants only
    ("post", "/api/reviews/{review_id}/acknowledge"): "client",
    ("get", "/api/reports/outcomes"): "report",  # the roles the clinic chooses; a team filter
}
# Operations that answer 201 when allowed (the rest 200).
API_CREATES = {
    ("post", "/api/clients/{client_id}/goals"),
    ("post", "/api/goals/{goal_id}/ratings"),
    ("post", "/api/clients/{client_id}/moments"),
    ("post", "/api/episodes/{episode_id}/encounters"),
    ("post", "/api/encounters/{encounter_id}/links"),
    ("post", "/api/fhir/QuestionnaireResponse"),
    ("post", "/api/clients/{client_id}/needs"),
    ("post", "/api/clients/{client_id}/care-items"),
    ("post", "/api/clients/{client_id}/consents"),
    ("post", "/api/clients/{client_id}/relationships"),
    ("post", "/api/clients/{client_id}/handoffs"),
    ("post", "/api/clients/{client_id}/reviews"),
}
# Allowed to every role that sees the client, but only a consultant may do it (400 otherwise).
CONSULTANT_ONLY = {"review_recommend", ("post", "/api/reviews/{review_id}/recommendation")}
FHIR_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "fhir"


def _names(patterns: list[URLPattern | URLResolver], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("api/"):
                continue  # the API is enumerated from its schema
            names |= _names(p.url_patterns)  # included url modules are enumerated too
        elif p.name:
            names.add(p.name)
    return names


def test_every_route_is_in_the_matrix():
    assert _names(get_resolver().url_patterns) == set(ROUTES)


def test_every_api_operation_is_in_the_matrix():
    operations = {
        (method, path)
        for path, item in schema()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert operations == set(API_OPERATIONS)


# --- the objects each target stands for -------------------------------------------------------


def _objects(world: World, target: str) -> dict[str, Any]:
    client = {
        "own": world.own_client,
        "other_team": world.other_team_client,
        "other_org": world.other_org_client,
    }[target]
    episode = {
        "own": world.own_episode,
        "other_team": world.other_team_episode,
        "other_org": world.other_org_episode,
    }[target]
    encounter = {
        "own": world.own_encounter,
        "other_team": world.other_team_encounter,
        "other_org": world.other_org_encounter,
    }[target]
    alert = {
        "own": world.own_alert,
        "other_team": world.other_team_alert,
        "other_org": world.other_org_alert,
    }[target]
    member = client.care_team.order_by("-pk").first()
    return {
        "client": client,
        "episode": episode,
        "encounter": encounter,
        "member": member,
        "alert": alert,
    }


def _newcomer(world: World, target: str) -> int:
    """A colleague not yet on the target client's care team (the other clinic has none)."""
    return {"own": world.colleague, "other_team": world.clinician, "other_org": world.outsider}[
        target
    ].pk


def _client_route_request(name: str, world: World, target: str) -> tuple[str, dict[str, Any]]:
    o = _objects(world, target)
    client, episode, encounter, member = o["client"], o["episode"], o["encounter"], o["member"]
    alert = o["alert"]
    tomorrow = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    table: dict[str, tuple[list[int], dict[str, Any]]] = {
        "client": ([client.pk], {}),
        "care_team_add": (
            [client.pk],
            {"membership": _newcomer(world, target), "care_role": "member"},
        ),
        "care_team_end": ([client.pk, member.pk], {}),
        "episode_open": ([client.pk], {"opened_on": "2026-01-05", "planned_sessions": "8"}),
        "episode_close": (
            [client.pk, episode.pk],
            {"closed_on": timezone.localdate().isoformat(), "reason": "planned", "version": "1"},
        ),
        "encounter_new": ([client.pk, episode.pk], {"starts_at": tomorrow, "kind": "therapy"}),
        "encounter_attendance": (
            [client.pk, encounter.pk],
            {"attendance": "attended", "version": "1"},
        ),
        "session_measures": ([client.pk, encounter.pk], {}),
        "plan_edit": ([client.pk, episode.pk], {"phq9-timing": "before", "phq9-schedule": "every"}),
        "link_create": ([client.pk, encounter.pk], {"timing": "before", "send": "show"}),
        "alert": ([alert.pk], {}),
        "alert_acknowledge": ([alert.pk], {"version": "1"}),
        "alert_resolve": ([alert.pk], {"version": "1", "note": "Called; safe."}),
        "client_chart": ([client.pk], {}),
        "client_chart_pdf": ([client.pk], {}),
    }
    if name in AGENCY_ROUTES:
        table.update(_agency_requests(client, episode))
    if name in CARE_ROUTES:
        table[name] = _care_request(name, client, episode)
    if name in STORY_ROUTES:
        table[name] = _story_request(name, client, episode)
    args, data = table[name]
    return reverse(name, args=args), data


AGENCY_ROUTES = {
    "client_goals",
    "goal_add",
    "goal_revise",
    "goal_retire",
    "goal_rate",
    "moment_add",
    "own_view_set",
    "thanks_keep",
    "episode_ending",
    "episode_phase",
    "episode_review",
    "relapse_plan_save",
}


def _agency_requests(client: Any, episode: Any) -> dict[str, tuple[list[int], dict[str, Any]]]:
    """A goal and a thank-you to the team for the target client, and each route's request."""
    from alliance.agency.models import Goal, Thanks

    now = timezone.now()
    common = {"organisation_id": client.organisation_id, "client": client, "episode": episode}
    goal = Goal.objects.create(
        **common, text="Walk to the park", written_by="client", created_at=now
    )
    thanks = Thanks.objects.create(**common, message="Thank you for listening", created_at=now)
    today = timezone.localdate().isoformat()
    return {
        "client_goals": ([client.pk], {}),
        "goal_add": ([client.pk], {"text": "Sleep through most nights"}),
        "goal_revise": ([client.pk, goal.pk], {"text": "Walk to the lake", "version": "1"}),
        "goal_retire": ([client.pk, goal.pk], {"reason": "Reached", "version": "1"}),
        "goal_rate": ([client.pk, goal.pk], {"rating": "6"}),
        "moment_add": (
            [client.pk],
            {"kind": "victory", "text": "Went to the shop", "happened_on": today},
        ),
        "own_view_set": ([client.pk], {"enabled": "on"}),
        "thanks_keep": ([thanks.pk], {}),
        "episode_ending": ([client.pk, episode.pk], {}),
        "episode_phase": ([client.pk, episode.pk], {"to": "working", "version": "1"}),
        "episode_review": ([client.pk, episode.pk], {"planned": "12", "version": "1"}),
        "relapse_plan_save": ([client.pk, episode.pk], {"warning_signs": "Sleeping badly"}),
    }


CARE_ROUTES = {
    "care_plan",
    "needs_save",
    "care_item_add",
    "care_item_edit",
    "consent_add",
    "consent_withdraw",
    "relationship_add",
    "relationship_end",
    "handoff_add",
    "handoff",
    "review_flag",
    "review_acknowledge",
    "review",
    "review_recommend",
}


STORY_ROUTES = {"client_stories", "story_review", "story_withdraw"}
STORY_WORDS = "Canary story: the Puffin walk helped me"  # the client's own, not de-identified


def _story(client: Any, episode: Any, **fields: Any) -> Any:
    """A story the target client offered from their link (waiting for review unless told)."""
    from alliance.reports.models import Story

    fields = {"words": STORY_WORDS, "consented_at": timezone.now()} | fields
    return Story.objects.create(
        organisation_id=client.organisation_id, client=client, episode=episode, **fields
    )


def _story_request(name: str, client: Any, episode: Any) -> tuple[list[int], dict[str, Any]]:
    story = _story(client, episode)
    review = {"decision": "share", "shared_text": "Walking helped.", "deidentified": "on"}
    return {
        "client_stories": ([client.pk], {}),
        "story_review": ([client.pk, story.pk], review | {"version": "1"}),
        "story_withdraw": ([client.pk, story.pk], {}),
    }[name]


def _care_objects(client: Any, episode: Any, *, review: bool = True) -> dict[str, Any]:
    """The target client's care-plan item (shared by consent with every clinician of its
    clinic), a consent, a person, a handoff to the team and an answered review."""
    from alliance.accounts.models import Membership, Role
    from alliance.care.models import (
        CareItem,
        CaseReview,
        Handoff,
        Relationship,
        ReviewStatus,
        SharingConsent,
    )

    made = CareItem.objects.filter(client=client, need="Sleep").first()
    if made is not None:  # asked twice in one world: the same objects
        return {
            "item": made,
            "consent": SharingConsent.objects.get(client=client, discipline="nursing"),
            "person": Relationship.objects.get(client=client, name="Dr Ortiz"),
            "handoff": Handoff.objects.get(client=client, situation="Moved house"),
            "review": CaseReview.objects.filter(client=client, question="Step up?").first(),
        }
    now = timezone.now()
    lead = client.care_team.order_by("pk").first().membership
    org = {"organisation_id": client.organisation_id, "client": client}
    for m in Membership.objects.filter(organisation_id=client.organisation_id).exclude(
        role=Role.ADMIN
    ):
        SharingConsent.objects.create(
            **org, provider=m, given_on=date.today(), recorded_by=lead, recorded_at=now
        )
    consent = SharingConsent.objects.create(
        **org, discipline="nursing", given_on=date.today(), recorded_by=lead, recorded_at=now
    )
    item = CareItem.objects.create(
        **org,
        episode=episode,
        discipline="psychology",
        need="Sleep",
        created_at=now,
        updated_at=now,
    )
    person = Relationship.objects.create(
        **org, name="Dr Ortiz", kind="provider", role="GP", added_by=lead, added_at=now
    )
    handoff = Handoff.objects.create(
        **org, sender=lead, situation="Moved house", ask="Please call", created_at=now
    )
    answered = (
        CaseReview.objects.create(
            **org,
            episode=episode,
            question="Step up?",
            flagged_by=lead,
            flagged_at=now,
            status=ReviewStatus.ANSWERED,
            recommendation="Add a medication review.",
            answered_at=now,
        )
        if review
        else None
    )
    return {
        "item": item,
        "consent": consent,
        "person": person,
        "handoff": handoff,
        "review": answered,
    }


def _care_request(name: str, client: Any, episode: Any) -> tuple[list[int], dict[str, Any]]:
    o = _care_objects(client, episode, review=name != "review_flag")
    review_id = o["review"].pk if o["review"] else 0
    item = o["item"]
    p = f"i{item.pk}"
    today = timezone.localdate().isoformat()
    return {
        "care_plan": ([client.pk], {}),
        "needs_save": (
            [client.pk],
            {"base_version": "0", "share-0-discipline": "nursing", "share-0-percent": "100"},
        ),
        "care_item_add": (
            [client.pk],
            {"discipline": "nursing", "need": "Pain", "status": "planned"},
        ),
        "care_item_edit": (
            [client.pk, item.pk],
            {
                f"{p}-discipline": "psychology",
                f"{p}-need": "Sleep better",
                f"{p}-status": "done",
                f"{p}-version": "1",
            },
        ),
        "consent_add": ([client.pk], {"share_with": "d:peer_support", "given_on": today}),
        "consent_withdraw": ([client.pk, o["consent"].pk], {}),
        "relationship_add": ([client.pk], {"name": "Jo", "kind": "family", "role": "Sister"}),
        "relationship_end": ([client.pk, o["person"].pk], {}),
        "handoff_add": (
            [client.pk],
            {"recipient": "", "situation": "Lost job", "ask": "Benefits?"},
        ),
        "handoff": ([client.pk, o["handoff"].pk], {}),
        "review_flag": ([client.pk], {"question": "Another question"}),
        "review_acknowledge": ([client.pk, review_id], {"version": "1"}),
        "review": ([review_id], {}),
        "review_recommend": ([review_id], {"recommendation": "Refer to CMHT", "version": "1"}),
    }[name]


def _http(role: str, world: World):
    from django.test import Client as HttpClient

    if role == "anonymous":
        return HttpClient()
    return signed_in(getattr(world, role))


def _assert_no_leak(body: str, role: str, world: World) -> None:
    for target in TARGETS:
        if target in SEES[role]:
            continue
        for canary in world.canaries_of(_objects(world, target)["client"]):
            assert canary not in body, f"{role} was shown {canary!r}"


# --- client routes -----------------------------------------------------------------------------

CLIENT_ROUTES = [name for name, r in ROUTES.items() if r.kind == "client"]


# Allowed requests that are nonetheless invalid: the page comes back with the form's error.
INVALID_WHEN_ALLOWED = {("care_team_add", "other_org")}  # the outsider is already on it


def _expected_client_route(name: str, route: Route, role: str, target: str) -> int:
    if role == "anonymous":
        return 302  # to the sign-in page
    if role == "admin":
        return 403  # admins read no clinical content
    if target not in SEES[role]:
        return 404
    if name in CONSULTANT_ONLY and role != "consultant":
        return 400
    return 400 if (name, target) in INVALID_WHEN_ALLOWED else route.ok


@pytest.mark.django_db
@pytest.mark.parametrize("name", CLIENT_ROUTES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", TARGETS)
def test_client_routes(name, role, target):
    world = build_world()
    route = ROUTES[name]
    url, data = _client_route_request(name, world, target)
    http = _http(role, world)
    response = http.get(url) if route.method == "GET" else http.post(url, data)
    expected = _expected_client_route(name, route, role, target)
    assert response.status_code == expected, f"{name} as {role} on {target}"
    if expected == 302 and role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
    body = response.content.decode(errors="replace")
    _assert_no_leak(body, role, world)
    if route.method == "GET" and expected == 200:
        assert world.canaries_of(_objects(world, target)["client"])[0] in body
    if name in STORY_ROUTES and route.method == "POST":  # a refusal redirects too: look
        from alliance.reports.models import Story, StoryStatus

        story = Story.objects.filter(client=_objects(world, target)["client"]).latest("pk")
        changed = story.status != StoryStatus.OFFERED
        allowed = expected == route.ok and role != "anonymous"  # anonymous: to the sign-in page
        assert changed == allowed, f"{name} as {role} on {target}: {story.status}"


# --- pages without a client -------------------------------------------------------------------


def _expected_plain(name: str, role: str) -> int:
    anonymous = role == "anonymous"
    admin = role == "admin"
    table = {
        "home": 302 if anonymous or admin else 200,
        "healthz": 200,
        "login": 200 if anonymous else 302,
        "login_code": 302,  # nobody is half-way through signing in
        "logout": 302,
        "two_factor": 302 if anonymous else 200,
        "client_new": 302 if anonymous else 403 if admin else 200,
        "pending_links": 302 if anonymous else 403 if admin else 200,
        "api_tokens": 302 if anonymous else 200,  # admins may give a program a token too
    }
    for page in JOURNAL_PAGES:
        table[page] = 302 if anonymous else 403 if admin else 200
    table["gratitude"] = 302 if anonymous else 403 if admin else 200
    for page in ("registry", "registry_csv", "reviews"):
        table[page] = 302 if anonymous else 403 if admin else 200
    table["gratitude_settings"] = 302 if anonymous else 403 if admin else 302
    # An empty form: the page comes back with its errors.
    table["wellbeing_rhythm"] = 302 if anonymous else 403 if admin else 400
    return table[name]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n, r in ROUTES.items() if r.kind == "plain"])
@pytest.mark.parametrize("role", ROLES)
def test_plain_routes(name, role):
    world = build_world()
    http = _http(role, world)
    url = reverse(name)
    response = http.get(url) if ROUTES[name].method == "GET" else http.post(url)
    assert response.status_code == _expected_plain(name, role), f"{name} as {role}"
    body = response.content.decode(errors="replace")
    _assert_no_leak(body, role, world)
    if name == "home" and role in SEES and SEES[role]:
        visible = _objects(world, next(iter(SEES[role])))["client"]
        assert visible.display_name in body  # the caseload lists the clients the user may see
    if response.status_code == 200 and role != "anonymous" and name == "home":
        # The nav offers the outcome report to the roles that run it by default.
        assert (f'href="{reverse("outcome_report")}"' in body) == (role in REPORTERS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", [n for n, r in ROUTES.items() if r.kind in {"manage", "membership"}]
)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("whose", ["own_org", "other_org"])
def test_manage_routes(name, role, whose):
    world = build_world()
    http = _http(role, world)
    if ROUTES[name].kind == "membership":
        membership = world.colleague if whose == "own_org" else world.outsider
        url = reverse(name, args=[membership.pk])
    else:
        url = reverse(name)
    response = http.get(url)
    if role == "anonymous":
        expected = 302
    elif role != "admin":
        expected = 403
    elif ROUTES[name].kind == "membership" and whose == "other_org":
        expected = 404
    else:
        expected = 200
    assert response.status_code == expected, f"{name} as {role}"
    body = response.content.decode(errors="replace")
    _assert_no_leak(body, role, world)
    if expected == 200:
        assert world.outsider.user.username not in body  # nothing of the other clinic


# --- the client's side, opened with their link (the token is the credential) ----------------

TOKEN_ROUTES = [name for name, r in ROUTES.items() if r.kind == "token"]
UNKNOWN_TOKEN_SAYS = {"measure_link": "couldn't find these questions"}


def _token_url(name: str, token: str, world: World) -> str:
    if name == "client_story_withdraw":
        story = _story(world.own_client, world.own_episode)
        return reverse(name, args=[token, story.pk])
    return reverse(name, args=[token])


@pytest.mark.django_db
@pytest.mark.parametrize("name", TOKEN_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_an_unknown_link_token_says_not_found_to_everyone(name, role):
    world = build_world()
    url = _token_url(name, "x" * 43, world)
    http = _http(role, world)
    response = http.get(url) if ROUTES[name].method == "GET" else http.post(url)
    assert response.status_code == 404, f"{name} as {role}"
    body = response.content.decode(errors="replace")
    assert UNKNOWN_TOKEN_SAYS.get(name, "This page can't be opened") in body
    _assert_no_leak(body, role, world)
    assert STORY_WORDS not in body


def _own_link(world: World) -> str:
    from alliance.measures.actions import do_create_link

    actor = world.actor(world.clinician)
    _, token = do_create_link(actor, world.own_encounter.pk, timing="before", send_email=False)
    return token


@pytest.mark.django_db
@pytest.mark.parametrize("target", TARGETS)
def test_a_story_link_shows_and_withdraws_its_own_clients_stories_only(target):
    from alliance.reports.models import Story, StoryStatus

    world = build_world()
    token = _own_link(world)
    o = _objects(world, target)
    story = _story(o["client"], o["episode"], words=f"Story of {target}")
    http = _http("anonymous", world)

    page = http.get(reverse("client_story", args=[token])).content.decode(errors="replace")
    assert (f"Story of {target}" in page) == (target == "own")
    for canary in world.canaries_of(o["client"]):
        assert canary not in page
    response = http.post(reverse("client_story_withdraw", args=[token, story.pk]))
    story.refresh_from_db()
    if target == "own":
        assert response.status_code == 302
        assert (story.status, story.words) == (StoryStatus.WITHDRAWN, "")
    else:
        assert response.status_code == 404
        assert story.status == StoryStatus.OFFERED
    offered = http.post(reverse("client_story", args=[token]), {"words": "Hi", "consent": "on"})
    assert offered.status_code == 302
    assert Story.objects.filter(words="Hi").get().client_id == world.own_client.pk


# --- the de-identified outcome report ----------------------------------------------------------

REPORT_ROUTES = [name for name, r in ROUTES.items() if r.kind == "report"]
REPORTERS = {"coordinator", "consultant", "admin"}  # the clinic's default report_roles
# The team filter: none (all the actor's teams), the world's team, the other team of its
# clinic, a team of the other clinic.
TEAM_FILTERS = ["none", "own", "other_team", "other_org"]
# De-identified words of a shared story, by the team of the client who offered it.
SHARED = {t: f"Shared words of the {t} team" for t in ("own", "other_team", "other_org")}
TEAM_REFUSED = "That team is not one you can report on"


def _report_params(world: World, team_filter: str) -> dict[str, str]:
    from alliance.accounts.models import Team

    today = timezone.localdate()
    start = (today - timedelta(days=365)).isoformat()
    params = {"start": start, "end": today.isoformat(), "group_by": "team", "measure": "paired"}
    team = {
        "none": None,
        "own": world.team,
        "other_team": world.other_team,
        "other_org": Team.objects.get_or_create(organisation=world.other_org, name="Far team")[0],
    }[team_filter]
    return params if team is None else params | {"team": str(team.pk)}


def _report_stories(world: World) -> None:
    """A shared story of each target's client, their own words (and name) kept beside it."""
    from alliance.reports.models import StoryStatus

    for target, text in SHARED.items():
        o = _objects(world, target)
        words = f"{STORY_WORDS}, says {o['client'].display_name}"
        _story(o["client"], o["episode"], words=words, status=StoryStatus.SHARED, shared_text=text)


def _team_refused(role: str, team_filter: str) -> bool:
    return team_filter == "other_org" or (team_filter == "other_team" and role != "admin")


def _expected_report(name: str, role: str, team_filter: str) -> int:
    if role == "anonymous":
        return 302  # to the sign-in page
    if role not in REPORTERS:
        return 403  # the clinic's report_roles leave clinicians out by default
    if _team_refused(role, team_filter):
        return 200 if name == "outcome_report" else 400  # the page shows the form's error
    return 200


def _assert_no_client_at_all(body: str, world: World) -> None:
    """The report is de-identified: no client's name, number or own words, for anyone."""
    for target in TARGETS:
        for canary in world.canaries_of(_objects(world, target)["client"]):
            assert canary not in body, f"the report showed {canary!r}"
    assert STORY_WORDS not in body


def _report_entries(response: Any) -> list[tuple[str, str, Any]]:
    from alliance.audit.models import AuditEntry

    rows = AuditEntry.objects.filter(request_id=response["X-Request-ID"], object_type="report")
    return list(rows.values_list("action", "outcome", "client_id"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", REPORT_ROUTES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("team_filter", TEAM_FILTERS)
def test_report_routes(name, role, team_filter):
    from alliance.alerts.models import Alert, Status

    world = build_world()
    Alert.objects.update(status=Status.ACKNOWLEDGED)  # no risk banner: no client on the page
    _report_stories(world)
    params = _report_params(world, team_filter) if team_filter != "none" else {}
    response = _http(role, world).get(reverse(name), params)
    expected = _expected_report(name, role, team_filter)
    assert response.status_code == expected, f"{name} as {role}, team {team_filter}"
    if role == "anonymous":
        assert response["Location"].startswith(reverse("login"))
        return
    body = response.content.decode(errors="replace")
    _assert_no_client_at_all(body, world)
    action = "report.run" if name == "outcome_report" else "report.export"  # refused or not
    refused = role not in REPORTERS or _team_refused(role, team_filter)
    assert _report_entries(response) == [(action, "denied" if refused else "ok", None)]
    if name == "outcome_report" and expected == 200:
        assert (TEAM_REFUSED in body) == refused
        shown = {t for t, text in SHARED.items() if text in body}
        if refused:
            assert shown == set()
        elif team_filter == "none":
            assert shown == ({"own", "other_team"} if role == "admin" else {"own"})
        else:
            assert shown == {team_filter}


@pytest.mark.django_db
def test_the_clinic_admin_chooses_who_runs_the_report():
    from alliance.accounts.models import ClinicSettings, Role

    world = build_world()
    ClinicSettings.objects.update_or_create(
        organisation=world.org, defaults={"report_roles": [Role.CLINICIAN.value]}
    )
    for role, status in {"clinician": 200, "coordinator": 403, "admin": 403}.items():
        for name in REPORT_ROUTES:
            response = _http(role, world).get(reverse(name))
            assert response.status_code == status, f"{name} as {role}"
    # The other clinic keeps the default: its clinician still may not.
    assert _http("outsider", world).get(reverse("outcome_report")).status_code == 403


# --- the API ----------------------------------------------------------------------------------


def _api_request(method: str, path: str, world: World, target: str) -> tuple[str, dict[str, Any]]:
    if API_OPERATIONS.get((method, path)) == "report":  # the target is a team filter
        return f"{path}?{urlencode(_report_params(world, target))}", {}
    o = _objects(world, target)
    url = (
        path.replace("{client_id}", str(o["client"].pk))
        .replace("{episode_id}", str(o["episode"].pk))
        .replace("{encounter_id}", str(o["encounter"].pk))
        .replace("{alert_id}", str(o["alert"].pk))
    )
    if any(k in path for k in ("{item_id}", "{consent_id}", "{review_id}")):
        care = _care_objects(o["client"], o["episode"])
        url = (
            url.replace("{item_id}", str(care["item"].pk))
            .replace("{consent_id}", str(care["consent"].pk))
            .replace("{review_id}", str(care["review"].pk))
        )
    if "{goal_id}" in path:
        _agency_requests(o["client"], o["episode"])  # makes the target client a goal
        url = path.replace("{goal_id}", str(reverse_goal(o["client"])))
    body: dict[str, Any] = {}
    if path.endswith("/goals") and method == "post":
        body = {"text": "Cook a meal for friends"}
    if path.endswith("/ratings"):
        body = {"rating": 7}
    if path.endswith("/moments") and method == "post":
        body = {"kind": "victory", "text": "Called a friend", "happened_on": str(date.today())}
    if path.endswith("/phase"):
        body = {"to": "working", "version": 1}
    if path.endswith("/encounters") and method == "post":
        body = {"starts_at": (timezone.now() + timedelta(days=2)).isoformat(), "kind": "therapy"}
    if path.endswith("/attendance"):
        body = {"attendance": "attended", "version": 1}
    if path.endswith("/links"):
        body = {"timing": "before", "send_email": False}
    if path.endswith("/acknowledge"):
        body = {"version": 1}
    if path.endswith("/resolve"):
        body = {"version": 1, "note": "Called; safe.", "checklist": CHECKLIST_KEYS}
    if path.endswith("/QuestionnaireResponse"):
        body = fhir_phq9(o["client"].pk)
    body = body or CARE_BODIES.get((method, path), {})
    return url, body


CARE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/clients/{client_id}/needs"): {
        "base_version": 0,
        "shares": [{"discipline": "nursing", "percent": 100}],
    },
    ("post", "/api/clients/{client_id}/care-items"): {"discipline": "nursing", "need": "Pain"},
    ("post", "/api/care-items/{item_id}"): {
        "discipline": "psychology",
        "need": "Sleep",
        "version": 1,
    },
    ("post", "/api/clients/{client_id}/consents"): {"discipline": "peer_support"},
    ("post", "/api/clients/{client_id}/relationships"): {
        "name": "Jo",
        "kind": "family",
        "role": "Sister",
    },
    ("post", "/api/clients/{client_id}/handoffs"): {"situation": "Lost job", "ask": "Benefits?"},
    ("post", "/api/clients/{client_id}/reviews"): {"question": "Step up?"},
    ("post", "/api/reviews/{review_id}/recommendation"): {"recommendation": "Refer", "version": 1},
    ("post", "/api/reviews/{review_id}/acknowledge"): {"version": 1},
}


def reverse_goal(client: Any) -> int:
    """The goal _agency_requests made for this client."""
    from alliance.agency.models import Goal

    goal = Goal.objects.filter(client=client).order_by("-pk").first()
    assert goal is not None
    return goal.pk


def fhir_phq9(client_id: int, resource_id: str = "phq-9-example") -> dict[str, Any]:
    """The US Core PHQ-9 example response, about this client."""
    name = "uscore__QuestionnaireResponse-phq-9-example.json"
    resource: dict[str, Any] = json.loads((FHIR_FIXTURES / name).read_text(encoding="utf-8"))
    resource["subject"] = {"reference": f"Patient/{client_id}"}
    resource["id"] = resource_id
    return resource


def _expected_api(method: str, path: str, role: str, target: str) -> int:
    if role == "anonymous":
        return 401
    if API_OPERATIONS[(method, path)] == "report":
        if role not in REPORTERS:
            return 403
        return 400 if _team_refused(role, target) else 200
    if API_OPERATIONS[(method, path)] != "client":
        return 200  # lists: an admin's are empty
    if target not in SEES[role]:
        return 404
    if (method, path) in CONSULTANT_ONLY and role != "consultant":
        return 400
    return 201 if (method, path) in API_CREATES else 200


API_CASES = [
    (method, path, role, target)
    for (method, path), kind in sorted(API_OPERATIONS.items())
    for role in ROLES
    for target in {"client": TARGETS, "report": TEAM_FILTERS}.get(kind, ["own"])  # others: same
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role", "target"), API_CASES)
def test_api_operations(method, path, role, target):
    kind = API_OPERATIONS[(method, path)]
    world = build_world()
    http = _http(role, world)
    url, body = _api_request(method, path, world, target)
    if method == "get":
        response = http.get(url)
    else:
        response = http.post(url, body, content_type="application/json")
    expected = _expected_api(method, path, role, target)
    assert response.status_code == expected, f"{method} {path} as {role} on {target}"
    text = response.content.decode(errors="replace")
    _assert_no_leak(text, role, world)
    if kind == "report" and role != "anonymous":
        _assert_no_client_at_all(text, world)
        refused = role not in REPORTERS or _team_refused(role, target)
        assert _report_entries(response) == [("report.run", "denied" if refused else "ok", None)]
    if response.status_code == 404:
        assert response.json() == {"detail": "Not found"}
    if kind == "list" and expected == 200:
        names = {item["display_name"] for item in response.json()["items"]}
        assert names == {_objects(world, t)["client"].display_name for t in SEES[role]}
    if kind == "alerts" and expected == 200:
        ids = {item["id"] for item in response.json()["items"]}
        assert ids == {_objects(world, t)["alert"].pk for t in SEES[role]}
