"""Changes to client data: validated, written with their audit entry, stale writes refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from alliance.audit.models import AuditEntry
from alliance.clients import actions
from alliance.clients.access import NotFound
from alliance.clients.models import Attendance, CareRole, Client, Encounter, Episode, Phase

pytestmark = pytest.mark.django_db


def _last_action() -> str:
    return AuditEntry.objects.latest("pk").action


def test_it_registers_a_client_with_the_creator_as_lead(world):
    actor = world.actor(world.colleague)
    client = actions.do_create_client(
        actor, display_name="Robin K.", record_number="R-1", team=world.team
    )
    place = client.care_team.get()
    assert (place.membership, place.care_role) == (world.colleague, CareRole.LEAD)
    assert _last_action() == "client.create"
    assert AuditEntry.objects.latest("pk").client_id == client.pk


def test_it_refuses_a_duplicate_record_number_and_writes_nothing(world):
    actor = world.actor(world.clinician)
    clients_before = Client.objects.count()
    with pytest.raises(actions.ActionError, match="already exists"):
        actions.do_create_client(actor, display_name="Copy", record_number="CANARY-OWN-001")
    assert Client.objects.count() == clients_before
    refusal = AuditEntry.objects.latest("pk")  # the refusal itself is on the record
    assert (refusal.action, refusal.outcome, refusal.client_id) == ("client.create", "failed", None)


def test_an_admin_cannot_register_clients(world):
    with pytest.raises(actions.ActionError):
        actions.do_create_client(world.actor(world.admin), display_name="X", record_number="X")


def test_the_lead_adds_and_removes_a_colleague(world):
    actor = world.actor(world.clinician)
    member = actions.do_add_care_team_member(
        actor, world.own_client.pk, membership_id=world.colleague.pk, care_role="member"
    )
    assert _last_action() == "careteam.add"
    # The colleague now sees the client...
    assert world.own_client in Client.objects.visible_to(world.actor(world.colleague))
    actions.do_end_care_team_place(actor, world.own_client.pk, member_id=member.pk)
    assert _last_action() == "careteam.remove"
    # ...and no longer does once their place has ended.
    assert world.own_client not in Client.objects.visible_to(world.actor(world.colleague))


def test_a_team_member_who_is_not_lead_cannot_change_the_team(world):
    with pytest.raises(actions.ActionError, match="lead clinician or a coordinator"):
        actions.do_add_care_team_member(
            world.actor(world.consultant),
            world.own_client.pk,
            membership_id=world.colleague.pk,
            care_role="member",
        )


def test_no_one_joins_a_care_team_across_organisations(world):
    with pytest.raises(actions.ActionError):
        actions.do_add_care_team_member(
            world.actor(world.clinician),
            world.own_client.pk,
            membership_id=world.outsider.pk,
            care_role="member",
        )


def test_a_lead_cannot_leave_without_handing_over(world):
    place = world.own_client.care_team.get(membership=world.clinician)
    with pytest.raises(actions.ActionError, match="Hand the lead"):
        actions.do_end_care_team_place(
            world.actor(world.clinician), world.own_client.pk, member_id=place.pk
        )


def test_one_open_episode_at_a_time(world):
    with pytest.raises(actions.ActionError, match="already has an open episode"):
        actions.do_open_episode(
            world.actor(world.clinician),
            world.own_client.pk,
            opened_on=date.today(),
            planned_sessions=8,
        )


def test_closing_an_episode_records_the_ending_and_refuses_a_stale_version(world):
    actor = world.actor(world.clinician)
    episode = actions.do_close_episode(
        actor, world.own_episode.pk, closed_on=date.today(), reason="planned", version=1
    )
    assert (episode.phase, episode.ending_reason, episode.version) == (Phase.CLOSED, "planned", 2)
    assert _last_action() == "episode.close"
    new = actions.do_open_episode(
        actor, world.own_client.pk, opened_on=date.today(), planned_sessions=12
    )
    assert new.phase == Phase.ENGAGEMENT


def test_a_stale_write_is_refused_and_changes_nothing(world):
    actor = world.actor(world.clinician)
    actions.do_record_attendance(actor, world.own_encounter.pk, attendance="attended", version=1)
    with pytest.raises(actions.StaleWrite):
        actions.do_record_attendance(actor, world.own_encounter.pk, attendance="dna", version=1)
    assert Encounter.objects.get(pk=world.own_encounter.pk).attendance == Attendance.ATTENDED


def test_an_episode_cannot_close_before_it_opened(world):
    with pytest.raises(actions.ActionError, match="before it opened"):
        actions.do_close_episode(
            world.actor(world.clinician),
            world.own_episode.pk,
            closed_on=date(2000, 1, 1),
            reason="planned",
            version=1,
        )
    assert Episode.objects.get(pk=world.own_episode.pk).phase != Phase.CLOSED


def test_sessions_need_an_aware_time_and_an_open_episode(world):
    actor = world.actor(world.clinician)
    naive = timezone.now().replace(tzinfo=None)
    with pytest.raises(actions.ActionError, match="time zone"):
        actions.do_schedule_encounter(actor, world.own_episode.pk, starts_at=naive, kind="therapy")
    encounter = actions.do_schedule_encounter(
        actor, world.own_episode.pk, starts_at=timezone.now() + timedelta(days=1), kind="therapy"
    )
    assert encounter.clinician == world.clinician
    assert _last_action() == "encounter.create"


def test_a_change_to_someone_elses_client_fails_like_a_missing_one(world):
    with pytest.raises(NotFound):
        actions.do_record_attendance(
            world.actor(world.clinician),
            world.other_org_encounter.pk,
            attendance="attended",
            version=1,
        )
    assert Encounter.objects.get(pk=world.other_org_encounter.pk).attendance == "scheduled"
