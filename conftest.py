"""Shared fixtures: a small world of two clinics with every role, and canary clients.

The canary strings are names and record numbers that must never appear in a response to
anyone who may not see that client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone

from alliance.accounts.actor import Actor, actor_for
from alliance.accounts.models import Discipline, Membership, Organisation, Role, Team, User
from alliance.alerts.models import PRIORITY, Alert, Kind
from alliance.clients.models import (
    CareRole,
    CareTeamMember,
    Client,
    Encounter,
    EncounterKind,
    Episode,
)

PASSWORD = "correct-horse-battery"
ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def pytest_configure(config: pytest.Config) -> None:
    # A cheap hasher keeps the suite fast; production's Argon2 is tested on its own.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The live server's request threads must not keep connections past their request, or the
    # PostgreSQL test database cannot be dropped at the end.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@dataclass
class World:
    org: Organisation
    other_org: Organisation
    team: Team
    other_team: Team
    clinician: Membership  # on own_client's care team (lead)
    colleague: Membership  # same clinic and team, but not on own_client's care team
    coordinator: Membership  # coordinator of `team`
    consultant: Membership  # consultant on own_client's care team
    admin: Membership
    outsider: Membership  # clinician of the other organisation
    own_client: Client  # in `team`, clinician is lead
    other_team_client: Client  # in `other_team`; only `colleague` is on its care team
    other_org_client: Client  # belongs to the other organisation
    own_episode: Episode
    own_encounter: Encounter
    other_team_episode: Episode
    other_team_encounter: Encounter
    other_org_episode: Episode
    other_org_encounter: Encounter
    own_alert: Alert
    other_team_alert: Alert
    other_org_alert: Alert

    def actor(self, membership: Membership) -> Actor:
        actor = actor_for(membership.user, membership.pk)
        assert actor is not None
        return actor

    def canaries_of(self, client: Client) -> list[str]:
        return [client.display_name, client.record_number]


def _member(org: Organisation, username: str, role: str, discipline: str = "") -> Membership:
    user = User.objects.create_user(
        username=username, password=PASSWORD, first_name=username.title(), last_name="Tester"
    )
    return Membership.objects.create(user=user, organisation=org, role=role, discipline=discipline)


def _client(org: Organisation, team: Team | None, name: str, number: str) -> Client:
    return Client.objects.create(
        organisation=org, team=team, display_name=name, record_number=number
    )


def _care(client: Client, membership: Membership, role: str = CareRole.LEAD) -> None:
    CareTeamMember.objects.create(
        organisation=client.organisation,
        client=client,
        membership=membership,
        discipline=membership.discipline,
        care_role=role,
    )


def _episode_with_encounter(client: Client, clinician: Membership) -> tuple[Episode, Encounter]:
    episode = Episode.objects.create(
        organisation=client.organisation,
        client=client,
        opened_on=date.today() - timedelta(weeks=4),
        planned_sessions=12,
    )
    encounter = Encounter.objects.create(
        organisation=client.organisation,
        client=client,
        episode=episode,
        clinician=clinician,
        starts_at=timezone.now() - timedelta(days=3),
        kind=EncounterKind.THERAPY,
    )
    return episode, encounter


def _alert(episode: Episode) -> Alert:
    return Alert.objects.create(
        organisation=episode.organisation,
        client=episode.client,
        episode=episode,
        kind=Kind.RISK,
        priority=PRIORITY[Kind.RISK],
        opened_at=timezone.now(),
        reason="PHQ-9 item 9 answered 1 (test)",
        facts={"value": 1},
    )


def build_world() -> World:
    org = Organisation.objects.create(name="Test Clinic", slug="test-clinic")
    other_org = Organisation.objects.create(name="Elsewhere Clinic", slug="elsewhere")
    team = Team.objects.create(organisation=org, name="North team")
    other_team = Team.objects.create(organisation=org, name="South team")
    clinician = _member(org, "clinician", Role.CLINICIAN, Discipline.PSYCHOLOGY)
    colleague = _member(org, "colleague", Role.CLINICIAN, Discipline.SOCIAL_WORK)
    coordinator = _member(org, "coordinator", Role.COORDINATOR)
    consultant = _member(org, "consultant", Role.CONSULTANT, Discipline.PSYCHIATRY)
    admin = _member(org, "orgadmin", Role.ADMIN)
    # Admins must have two-factor on; this one has, with a known secret.
    User.objects.filter(pk=admin.user_id).update(
        totp_secret=ADMIN_TOTP_SECRET, totp_confirmed_at=timezone.now()
    )
    admin.user.refresh_from_db()
    outsider = _member(other_org, "outsider", Role.CLINICIAN, Discipline.PSYCHOLOGY)
    for m in (clinician, colleague, coordinator, consultant):
        m.teams.set([team])
    own = _client(org, team, "Canary Own-Bluebird", "CANARY-OWN-001")
    other_team_client = _client(org, other_team, "Canary South-Kestrel", "CANARY-STH-002")
    other_org_client = _client(other_org, None, "Canary Far-Heron", "CANARY-FAR-003")
    _care(own, clinician)
    _care(own, consultant, CareRole.CONSULTANT)
    _care(other_team_client, colleague)
    _care(other_org_client, outsider)
    own_ep, own_enc = _episode_with_encounter(own, clinician)
    sth_ep, sth_enc = _episode_with_encounter(other_team_client, colleague)
    far_ep, far_enc = _episode_with_encounter(other_org_client, outsider)
    return World(
        org,
        other_org,
        team,
        other_team,
        clinician,
        colleague,
        coordinator,
        consultant,
        admin,
        outsider,
        own,
        other_team_client,
        other_org_client,
        own_ep,
        own_enc,
        sth_ep,
        sth_enc,
        far_ep,
        far_enc,
        _alert(own_ep),
        _alert(sth_ep),
        _alert(far_ep),
    )


def scored_response(
    episode: Episode,
    instrument_id: str,
    total: int,
    band: str,
    at: Any,
    *,
    encounter: Encounter | None = None,
    flags: list[str] | None = None,
) -> Any:
    """A complete response as a submission would have stored it (answers left out)."""
    from alliance.measures.models import Response

    return Response.objects.create(
        organisation=episode.organisation,
        client=episode.client,
        episode=episode,
        encounter=encounter,
        instrument_id=instrument_id,
        instrument_version="1.0.0",
        timing="before",
        source="link",
        answers={},
        total=total,
        band=band,
        complete=True,
        flags=flags or [],
        submitted_at=at,
    )


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def signed_in(membership: Membership) -> HttpClient:
    """A test client signed in as this member, as the login page would leave it."""
    client = HttpClient()
    client.force_login(membership.user)
    session = client.session
    now = timezone.now().timestamp()
    session["signed_in_at"] = now
    session["seen_at"] = now
    session.save()
    return client


@pytest.fixture
def as_member():
    return signed_in


# --- browser tests ----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


def _browser_missing() -> str:
    import os
    import shutil

    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (Debian package: chromium)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not installed (Debian package: chromium-driver)"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium, a laptop run names the browser tests it left out; CI may not."""
    import os

    reason = _browser_missing()
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    if not reason or not browser_items:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true needs the browser tests, but {reason}")
    items[:] = [item for item in items if not item.get_closest_marker("browser")]
    config.hook.pytest_deselected(items=browser_items)
    config._alliance_left_out = (reason, [item.nodeid for item in browser_items])  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    left_out = getattr(config, "_alliance_left_out", None)
    if left_out:
        reason, ids = left_out
        write = terminalreporter.write_line  # type: ignore[attr-defined]
        write(f"NOT RUN ({len(ids)} browser tests): {reason}")
        for node_id in ids:
            write(f"  not run: {node_id}")


@pytest.fixture(scope="session")
def browser():
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by the test
    # itself are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a live-server test's flush, put the audit table's append-only guards back."""
    yield
    if nextitem is None or "committed_db" not in getattr(item, "fixturenames", ()):
        return  # with no next test, the test database is already gone
    from django.db import connection

    from alliance.audit import guards

    blocker = item.funcargs.get("django_db_blocker") or item._request.getfixturevalue(  # type: ignore[attr-defined]
        "django_db_blocker"
    )
    with blocker.unblock():
        guards.remove(connection)
        guards.install(connection)
        # Closed, not left open: the first browser test starts Playwright, after which this
        # thread's `connection` is another object, and one left open here outlived the suite
        # (PostgreSQL then refused to drop the test database: "accessed by other users").
        connection.close()


@pytest.fixture
def committed_db(transactional_db: None) -> Iterator[None]:
    """A database whose writes really commit (for a live server or a worker that closes its
    connections); the audit guards are lifted at the end so the flush can empty the table, and
    put back by pytest_runtest_teardown."""
    from django.db import connection

    from alliance.audit import guards

    yield
    guards.remove(connection)


@pytest.fixture
def live_world(committed_db: None, live_server: object) -> World:
    return build_world()


@pytest.fixture
def open_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """Opens pages in fresh browser contexts, noting any request to another origin."""
    contexts = []

    def open_page(**options: Any) -> tuple[Any, list[str]]:
        context = browser.new_context(**(options or {"viewport": {"width": 1280, "height": 900}}))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        foreign: list[str] = []
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith((live_server.url, "data:")) else foreign.append(r.url)
            ),
        )
        return page, foreign

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def artifacts() -> object:
    from pathlib import Path

    folder = Path(__file__).resolve().parent / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


# --- scratch databases for tests that run real processes ----------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parent


@pytest.fixture
def scratch_database_url(tmp_path: Any) -> Iterator[str]:
    """A fresh database of the kind this run tests: a SQLite file, or a new PostgreSQL db."""
    with scratch_database(tmp_path / "scratch.sqlite3") as url:
        yield url


@contextmanager
def scratch_database(sqlite_path: Any) -> Iterator[str]:
    """A new, empty database of the kind this run tests (dropped afterwards on PostgreSQL)."""
    import uuid

    from django.db import connection

    if connection.vendor != "postgresql":
        yield f"sqlite:///{sqlite_path}"
        return
    import psycopg

    found = connection.settings_dict
    name = f"alliance_scratch_{uuid.uuid4().hex[:10]}"
    params: dict[str, Any] = {
        "host": found["HOST"] or None,
        "port": found["PORT"] or None,
        "user": found["USER"] or None,
        "password": found["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = found["USER"] or ""
    try:
        yield f"postgresql://{user}@{found['HOST']}:{found['PORT'] or 5432}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_env(tmp_path: Any, database_url: str) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "alliance.settings",
            "ALLIANCE_DATA_DIR": str(tmp_path),
            "SECRET_KEY": "scratch-test-secret-key-0123456789-abcdefghijklmn",
            "DATABASE_URL": database_url,
        }
    )
    return env


def scratch_run(args: list[str], env: dict[str, str]) -> Any:
    import subprocess

    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(autouse=True)
def _forget_fitted_bands() -> Iterator[None]:
    """Fitted bands are kept per process by id (a stored fit never changes); a test database
    rolled back may give the next test's fit the same id, so each test starts with none."""
    from alliance.trajectories import expected

    expected.forget()
    yield
    expected.forget()
