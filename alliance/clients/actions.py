"""Every change to client data: checked, done in one transaction, and audited with it."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, Role, Team
from alliance.audit.log import record
from alliance.clients.access import NotFound, access_client, access_encounter, access_episode
from alliance.clients.models import (
    Attendance,
    CareRole,
    CareTeamMember,
    Client,
    Encounter,
    EncounterKind,
    EndingReason,
    Episode,
    Phase,
)


class ActionError(Exception):
    """A change that cannot be made as asked; the message is shown to the user."""


class StaleWrite(ActionError):
    """Someone else changed the record since it was read."""

    def __init__(self) -> None:
        super().__init__("Someone else changed this record meanwhile. Reload and try again.")


def can_manage_care_team(actor: Actor, client: Client) -> bool:
    if actor.membership.role == Role.COORDINATOR:
        return True
    return CareTeamMember.objects.filter(
        client=client,
        membership=actor.membership,
        care_role=CareRole.LEAD,
        ended_at__isnull=True,
    ).exists()


def do_create_client(
    actor: Actor,
    *,
    display_name: str,
    record_number: str,
    email: str = "",
    team: Team | None = None,
) -> Client:
    if not actor.membership.is_clinical:
        raise ActionError("Only clinical staff can register clients.")
    if team is not None and team.organisation_id != actor.organisation_id:
        raise ActionError("That team is not in your organisation.")
    with transaction.atomic():
        if Client.objects.filter(
            organisation_id=actor.organisation_id, record_number=record_number
        ).exists():
            raise ActionError("A client with this record number already exists.")
        client = Client.objects.create(
            organisation_id=actor.organisation_id,
            team=team,
            display_name=display_name,
            record_number=record_number,
            email=email,
        )
        care_role = (
            CareRole.COORDINATOR if actor.membership.role == Role.COORDINATOR else CareRole.LEAD
        )
        CareTeamMember.objects.create(
            organisation_id=actor.organisation_id,
            client=client,
            membership=actor.membership,
            discipline=actor.membership.discipline,
            care_role=care_role,
        )
        record(
            "client.create",
            actor=actor,
            client_id=client.pk,
            object_type="client",
            object_id=client.pk,
        )
    return client


def do_add_care_team_member(
    actor: Actor, client_id: int, *, membership_id: int, care_role: str
) -> CareTeamMember:
    with transaction.atomic():
        client = access_client(actor, client_id, action="careteam.add")
        if not can_manage_care_team(actor, client):
            raise ActionError("Only the lead clinician or a coordinator can change the care team.")
        membership = Membership.objects.filter(
            pk=membership_id, organisation_id=actor.organisation_id, is_active=True
        ).first()
        if membership is None or not membership.is_clinical:
            raise ActionError("Choose an active clinical colleague from your organisation.")
        if CareTeamMember.objects.filter(
            client=client, membership=membership, ended_at__isnull=True
        ).exists():
            raise ActionError("They are already on this client's care team.")
        if care_role not in CareRole.values:
            raise ActionError("Choose a care-team role.")
        member = CareTeamMember.objects.create(
            organisation_id=actor.organisation_id,
            client=client,
            membership=membership,
            discipline=membership.discipline,
            care_role=care_role,
        )
        record(
            "careteam.add",
            actor=actor,
            client_id=client.pk,
            object_type="careteam",
            object_id=member.pk,
            detail={"membership": membership.pk, "role": care_role},
        )
    return member


def do_end_care_team_place(actor: Actor, client_id: int, *, member_id: int) -> CareTeamMember:
    with transaction.atomic():
        client = access_client(actor, client_id, action="careteam.remove")
        if not can_manage_care_team(actor, client):
            raise ActionError("Only the lead clinician or a coordinator can change the care team.")
        member = CareTeamMember.objects.filter(
            pk=member_id, client=client, ended_at__isnull=True
        ).first()
        if member is None:
            raise NotFound("care team member not found")
        if member.membership_id == actor.membership.pk and member.care_role == CareRole.LEAD:
            raise ActionError("Hand the lead to a colleague before you leave the care team.")
        member.ended_at = timezone.now()
        member.save(update_fields=["ended_at"])
        record(
            "careteam.remove",
            actor=actor,
            client_id=client.pk,
            object_type="careteam",
            object_id=member.pk,
            detail={"membership": member.membership_id},
        )
    return member


def do_open_episode(
    actor: Actor, client_id: int, *, opened_on: date, planned_sessions: int | None
) -> Episode:
    with transaction.atomic():
        client = access_client(actor, client_id, action="episode.create")
        if client.episodes.exclude(phase=Phase.CLOSED).exists():
            raise ActionError("This client already has an open episode; close it first.")
        if planned_sessions is not None and not 1 <= planned_sessions <= 200:
            raise ActionError("Planned sessions must be between 1 and 200.")
        episode = Episode.objects.create(
            organisation_id=actor.organisation_id,
            client=client,
            opened_on=opened_on,
            planned_sessions=planned_sessions,
        )
        record(
            "episode.create",
            actor=actor,
            client_id=client.pk,
            object_type="episode",
            object_id=episode.pk,
        )
    return episode


def do_close_episode(
    actor: Actor, episode_id: int, *, closed_on: date, reason: str, version: int
) -> Episode:
    if reason not in EndingReason.values:
        raise ActionError("Choose an ending reason.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="episode.close")
        if episode.phase == Phase.CLOSED:
            raise ActionError("This episode is already closed.")
        if closed_on < episode.opened_on:
            raise ActionError("An episode cannot close before it opened.")
        _bump(
            Episode,
            episode.pk,
            version,
            phase=Phase.CLOSED,
            closed_on=closed_on,
            ending_reason=reason,
        )
        record(
            "episode.close",
            actor=actor,
            client_id=episode.client_id,
            object_type="episode",
            object_id=episode.pk,
            detail={"reason": reason},
        )
        episode.refresh_from_db()
    return episode


def do_schedule_encounter(
    actor: Actor, episode_id: int, *, starts_at: datetime, kind: str
) -> Encounter:
    if kind not in EncounterKind.values:
        raise ActionError("Choose the kind of session.")
    if timezone.is_naive(starts_at):
        raise ActionError("Give the session time with its time zone, e.g. 2026-03-01T10:00Z.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="encounter.create")
        if episode.phase == Phase.CLOSED:
            raise ActionError("This episode is closed; open a new one to book sessions.")
        encounter = Encounter.objects.create(
            organisation_id=actor.organisation_id,
            client_id=episode.client_id,
            episode=episode,
            clinician=actor.membership,
            starts_at=starts_at,
            kind=kind,
        )
        record(
            "encounter.create",
            actor=actor,
            client_id=episode.client_id,
            object_type="encounter",
            object_id=encounter.pk,
        )
    return encounter


def do_record_attendance(
    actor: Actor, encounter_id: int, *, attendance: str, version: int
) -> Encounter:
    if attendance not in Attendance.values:
        raise ActionError("Choose attended, cancelled or did not attend.")
    with transaction.atomic():
        encounter = access_encounter(actor, encounter_id, action="encounter.attendance")
        _bump(Encounter, encounter.pk, version, attendance=attendance)
        record(
            "encounter.attendance",
            actor=actor,
            client_id=encounter.client_id,
            object_type="encounter",
            object_id=encounter.pk,
            detail={"attendance": attendance},
        )
        encounter.refresh_from_db()
    return encounter


def _bump(model: type[Episode] | type[Encounter], pk: int, version: int, **changes: object) -> None:
    """Write the changes only if nobody else has since the version was read."""
    from django.db.models import F

    updated = model.objects.filter(pk=pk, version=version).update(
        version=F("version") + 1, **changes
    )
    if updated != 1:
        raise StaleWrite
