"""Every change to client data: checked, done in one transaction, and audited with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, Role, Team
from alliance.audit.log import record
from alliance.clients.access import access_client, access_encounter, access_episode
from alliance.clients.errors import ActionError as ActionError
from alliance.clients.errors import NotFound, audit_refusals
from alliance.clients.errors import StaleWrite as StaleWrite
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

# Dates outside this window are typing slips (year 0001, 9999), not clinical facts.
YEARS_BACK = 50
YEARS_AHEAD = 2


def check_day(day: date, what: str) -> None:
    today = timezone.localdate()
    earliest = today - timedelta(days=round(365.25 * YEARS_BACK))
    latest = today + timedelta(days=round(365.25 * YEARS_AHEAD))
    if not earliest <= day <= latest:
        raise ActionError(f"{what} must fall between {earliest:%d %b %Y} and {latest:%d %b %Y}.")


def check_time(at: datetime, what: str) -> None:
    try:
        day = at.astimezone(UTC).date()
    except (OverflowError, ValueError):
        day = date.min
    check_day(day, what)


def can_manage_care_team(actor: Actor, client: Client) -> bool:
    if actor.membership.role == Role.COORDINATOR:
        return True
    return CareTeamMember.objects.filter(
        client=client,
        membership=actor.membership,
        care_role=CareRole.LEAD,
        ended_at__isnull=True,
    ).exists()


@audit_refusals("client.create")
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
        try:
            with transaction.atomic():  # a colleague registering the same number at once
                client = Client.objects.create(
                    organisation_id=actor.organisation_id,
                    team=team,
                    display_name=display_name,
                    record_number=record_number,
                    email=email,
                )
        except IntegrityError:
            raise ActionError("A client with this record number already exists.") from None
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


@audit_refusals("careteam.add")
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


@audit_refusals("careteam.remove")
def do_end_care_team_place(actor: Actor, client_id: int, *, member_id: int) -> CareTeamMember:
    with transaction.atomic():
        client = access_client(actor, client_id, action="careteam.remove")
        if not can_manage_care_team(actor, client):
            raise ActionError("Only the lead clinician or a coordinator can change the care team.")
        member = CareTeamMember.objects.filter(
            pk=member_id, client=client, ended_at__isnull=True
        ).first()
        if member is None:
            if CareTeamMember.objects.filter(pk=member_id, client=client).exists():
                raise ActionError("They had already left the care team.")
            raise NotFound("careteam", member_id)
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


@audit_refusals("episode.create")
def do_open_episode(
    actor: Actor, client_id: int, *, opened_on: date, planned_sessions: int | None
) -> Episode:
    with transaction.atomic():
        client = access_client(actor, client_id, action="episode.create")
        if client.episodes.exclude(phase=Phase.CLOSED).exists():
            raise ActionError("This client already has an open episode; close it first.")
        check_day(opened_on, "The opening date")
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


@audit_refusals("episode.close")
def do_close_episode(
    actor: Actor,
    episode_id: int,
    *,
    closed_on: date,
    reason: str,
    version: int,
    client_id: int | None = None,
) -> Episode:
    if reason not in EndingReason.values:
        raise ActionError("Choose an ending reason.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="episode.close", client_id=client_id)
        if episode.phase == Phase.CLOSED:
            raise ActionError("This episode is already closed.")
        check_day(closed_on, "The closing date")
        if closed_on < episode.opened_on:
            raise ActionError("An episode cannot close before it opened.")
        bump_version(
            Episode,
            episode.pk,
            version,
            phase=Phase.CLOSED,
            closed_on=closed_on,
            # Closing from follow-up keeps the day treatment ended; otherwise it ends today.
            ended_on=episode.ended_on or closed_on,
            ending_reason=reason,
        )
        # Its unanswered measure links stop working with it.
        from alliance.measures.models import MeasureLink

        MeasureLink.objects.filter(
            encounter__episode_id=episode.pk, completed_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
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


@audit_refusals("encounter.create")
def do_schedule_encounter(
    actor: Actor,
    episode_id: int,
    *,
    starts_at: datetime,
    kind: str,
    client_id: int | None = None,
) -> Encounter:
    if kind not in EncounterKind.values:
        raise ActionError("Choose the kind of session.")
    if timezone.is_naive(starts_at):
        raise ActionError("Give the session time with its time zone, e.g. 2026-03-01T10:00Z.")
    check_time(starts_at, "The session time")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="encounter.create", client_id=client_id)
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


@audit_refusals("encounter.attendance")
def do_record_attendance(
    actor: Actor, encounter_id: int, *, attendance: str, version: int, client_id: int | None = None
) -> Encounter:
    if attendance not in Attendance.values:
        raise ActionError("Choose attended, cancelled or did not attend.")
    with transaction.atomic():
        encounter = access_encounter(
            actor, encounter_id, action="encounter.attendance", client_id=client_id
        )
        bump_version(Encounter, encounter.pk, version, attendance=attendance)
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


def bump_version(model: type[Model], pk: int, version: int, **changes: object) -> None:
    """Write the changes only if nobody else has since the version was read (the row's
    `version` column counts the writes)."""
    from django.db.models import F

    updated = model._default_manager.filter(pk=pk, version=version).update(
        version=F("version") + 1, **changes
    )
    if updated != 1:
        raise StaleWrite
