"""Shared fixtures: a small world of two clinics with every role, and canary clients.

The canary strings are names and record numbers that must never appear in a response to
anyone who may not see that client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone

from alliance.accounts.actor import Actor, actor_for
from alliance.accounts.models import Discipline, Membership, Organisation, Role, Team, User
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


@dataclass
class World:
    org: Organisation
    other_org: Organisation
    team: Team
    other_team: Team
    clinician: Membership  # on own_client's care team (lead)
    colleague: Membership  # same clinic, on no care team of interest
    coordinator: Membership  # coordinator of `team`
    consultant: Membership  # consultant on own_client's care team
    admin: Membership
    outsider: Membership  # clinician of the other organisation
    own_client: Client  # in `team`, clinician is lead
    other_team_client: Client  # in `other_team`; nobody above is on its care team
    other_org_client: Client  # belongs to the other organisation
    own_episode: Episode
    own_encounter: Encounter
    other_team_episode: Episode
    other_team_encounter: Encounter
    other_org_episode: Episode
    other_org_encounter: Encounter

    def actor(self, membership: Membership) -> Actor:
        actor = actor_for(membership.user, membership.pk)
        assert actor is not None
        return actor

    def canaries_of(self, client: Client) -> list[str]:
        return [client.display_name, client.record_number]


def _member(org: Organisation, username: str, role: str, discipline: str = "") -> Membership:
    user = User.objects.create_user(username=username, password=PASSWORD,
                                    first_name=username.title(), last_name="Tester")
    return Membership.objects.create(user=user, organisation=org, role=role,
                                     discipline=discipline)


def _client(org: Organisation, team: Team | None, name: str, number: str) -> Client:
    return Client.objects.create(organisation=org, team=team, display_name=name,
                                 record_number=number)


def _care(client: Client, membership: Membership, role: str = CareRole.LEAD) -> None:
    CareTeamMember.objects.create(organisation=client.organisation, client=client,
                                  membership=membership, discipline=membership.discipline,
                                  care_role=role)


def _episode_with_encounter(client: Client, clinician: Membership) -> tuple[Episode, Encounter]:
    episode = Episode.objects.create(organisation=client.organisation, client=client,
                                     opened_on=date.today() - timedelta(weeks=4),
                                     planned_sessions=12)
    encounter = Encounter.objects.create(
        organisation=client.organisation, client=client, episode=episode, clinician=clinician,
        starts_at=timezone.now() - timedelta(days=3), kind=EncounterKind.THERAPY,
    )
    return episode, encounter


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
    _care(other_org_client, outsider)
    own_ep, own_enc = _episode_with_encounter(own, clinician)
    sth_ep, sth_enc = _episode_with_encounter(other_team_client, colleague)
    far_ep, far_enc = _episode_with_encounter(other_org_client, outsider)
    return World(org, other_org, team, other_team, clinician, colleague, coordinator,
                 consultant, admin, outsider, own, other_team_client, other_org_client,
                 own_ep, own_enc, sth_ep, sth_enc, far_ep, far_enc)


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
