"""access_* functions: one answer for missing and not-yours, and an audit entry for each read."""

from __future__ import annotations

import pytest

from alliance.audit.models import AuditEntry, Outcome
from alliance.clients.access import (
    NotFound,
    access_client,
    access_encounter,
    access_episode,
    visible_clients,
)

pytestmark = pytest.mark.django_db


def test_a_clinician_sees_only_clients_whose_care_team_they_are_on(world):
    assert list(visible_clients(world.actor(world.clinician))) == [world.own_client]
    assert list(visible_clients(world.actor(world.colleague))) == [world.other_team_client]


def test_a_coordinator_sees_every_client_of_their_service_team(world):
    assert list(visible_clients(world.actor(world.coordinator))) == [world.own_client]


def test_a_coordinator_also_sees_a_client_whose_care_team_they_joined(world):
    from conftest import _care

    _care(world.other_team_client, world.coordinator, "coordinator")
    seen = set(visible_clients(world.actor(world.coordinator)))
    assert seen == {world.own_client, world.other_team_client}


def test_an_org_admin_sees_no_client(world):
    assert not visible_clients(world.actor(world.admin)).exists()


def test_nothing_crosses_organisations(world):
    assert list(visible_clients(world.actor(world.outsider))) == [world.other_org_client]


def test_a_care_team_place_that_ended_closes_access(world):
    from django.utils import timezone

    world.own_client.care_team.filter(membership=world.clinician).update(ended_at=timezone.now())
    with pytest.raises(NotFound):
        access_client(world.actor(world.clinician), world.own_client.pk)


def test_missing_and_not_yours_raise_the_same_error(world):
    actor = world.actor(world.clinician)
    with pytest.raises(NotFound) as missing:
        access_client(actor, 987654)
    with pytest.raises(NotFound) as not_mine:
        access_client(actor, world.other_org_client.pk)
    assert str(missing.value) == str(not_mine.value)


def test_a_read_writes_an_audit_entry_naming_the_client(world):
    access_client(world.actor(world.clinician), world.own_client.pk)
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.client_id, entry.outcome) == (
        "client.view",
        world.own_client.pk,
        Outcome.OK,
    )
    assert entry.actor_id == world.clinician.user_id
    assert entry.organisation_id == world.org.pk


def test_a_refused_read_is_audited_without_revealing_the_client(world):
    with pytest.raises(NotFound):
        access_client(world.actor(world.clinician), world.other_org_client.pk)
    entry = AuditEntry.objects.latest("pk")
    assert entry.outcome == Outcome.DENIED
    assert entry.client_id is None  # the other clinic's client is not linked to this chain
    assert entry.organisation_id == world.org.pk


@pytest.mark.parametrize(
    ("function", "attribute"),
    [(access_episode, "episode"), (access_encounter, "encounter")],
)
def test_episodes_and_encounters_follow_their_client(world, function, attribute):
    own = getattr(world, f"own_{attribute}")
    other = getattr(world, f"other_org_{attribute}")
    actor = world.actor(world.clinician)
    assert function(actor, own.pk) == own
    with pytest.raises(NotFound):
        function(actor, other.pk)
    with pytest.raises(NotFound):
        function(world.actor(world.admin), own.pk)
