"""An episode planned with its ending in view: phases, plan reviews, the relapse-prevention plan,
and follow-up check-ins after discharge.

Phases move engagement -> working -> ending -> follow-up -> closed; ending may step back to
working, and follow-up or closed may re-open to working ("a way back into care"), keeping every
response, goal and alert of the episode. Each move is a PhaseChange row and an audit entry.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import clinic_settings
from alliance.agency import readiness
from alliance.agency.models import (
    PLAN_TEXT,
    CheckIn,
    CheckInStatus,
    Goal,
    GoalRating,
    GoalStatus,
    PhaseChange,
    RelapsePlan,
    Review,
)
from alliance.alerts.models import Alert, Kind
from alliance.audit.log import record
from alliance.clients.access import access_episode
from alliance.clients.actions import bump_version, check_day
from alliance.clients.errors import ActionError, StaleWrite, audit_refusals
from alliance.clients.models import (
    Attendance,
    Encounter,
    EncounterKind,
    EndingReason,
    Episode,
    Phase,
)
from alliance.measures.models import MeasureLink
from alliance.measures.summary import Series, episode_series

# The moves a clinician may make from each phase (closing also has its own form).
MOVES: dict[str, tuple[str, ...]] = {
    Phase.ENGAGEMENT: (Phase.WORKING, Phase.ENDING),
    Phase.WORKING: (Phase.ENDING,),
    Phase.ENDING: (Phase.WORKING, Phase.FOLLOW_UP),
    Phase.FOLLOW_UP: (Phase.WORKING,),
    Phase.CLOSED: (Phase.WORKING,),
}
DEFAULT_FOLLOW_UP_MONTHS = (1, 3, 6)
PLAN_FIELDS = ("warning_signs", "what_helps", "who_to_contact", "what_to_do")
PLAN_LABELS = {
    "warning_signs": "My warning signs",
    "what_helps": "What helps me",
    "who_to_contact": "Who I can contact",
    "what_to_do": "What I will do if things get harder",
}


def parse_months(text: str) -> tuple[int, ...]:
    """'1, 3, 6' -> (1, 3, 6): up to six check-ins, each 1-24 months after discharge."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise ActionError("Give at least one follow-up interval in months, such as 1, 3, 6.")
    if len(parts) > 6 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ActionError("Follow-up intervals are up to six whole numbers of months: 1, 3, 6.")
    months = sorted({int(p) for p in parts})
    if months[0] < 1 or months[-1] > 24:
        raise ActionError("Each follow-up interval is between 1 and 24 months.")
    return tuple(months)


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@audit_refusals("episode.phase")
def do_move_phase(
    actor: Actor,
    episode_id: int,
    *,
    to: str,
    version: int,
    note: str = "",
    months: tuple[int, ...] = DEFAULT_FOLLOW_UP_MONTHS,
    discharged_on: date | None = None,
    reason: str = EndingReason.PLANNED,
    client_id: int | None = None,
) -> Episode:
    note = " ".join(note.split())[:600]
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="episode.phase", client_id=client_id)
        if to not in MOVES.get(episode.phase, ()):
            raise ActionError(
                f"An episode in {Phase(episode.phase).label.lower()} cannot move to "
                f"{Phase(to).label.lower() if to in Phase.values else 'that phase'}."
            )
        changes: dict[str, object] = {"phase": to}
        if to == Phase.WORKING and episode.phase in (Phase.FOLLOW_UP, Phase.CLOSED):
            _reopen_checks(episode)
            changes.update(closed_on=None, ended_on=None, ending_reason="")
            CheckIn.objects.filter(episode=episode, status=CheckInStatus.SCHEDULED).update(
                status=CheckInStatus.CANCELLED
            )
        if to == Phase.FOLLOW_UP:
            if reason not in EndingReason.values:
                raise ActionError("Choose an ending reason.")
            discharged_on = discharged_on or timezone.localdate()
            check_day(discharged_on, "The discharge date")
            if discharged_on < episode.opened_on:
                raise ActionError("Discharge cannot come before the episode opened.")
            changes["ending_reason"] = reason
            changes["ended_on"] = discharged_on
        bump_version(Episode, episode.pk, version, **changes)
        PhaseChange.objects.create(
            organisation_id=episode.organisation_id,
            episode=episode,
            from_phase=episode.phase,
            to_phase=to,
            at=timezone.now(),
            by=actor.membership,
            note=note,
        )
        scheduled: list[CheckIn] = []
        if to == Phase.FOLLOW_UP:
            assert discharged_on is not None
            # Discharged: the sessions' unanswered links stop working; check-ins bring their own.
            MeasureLink.objects.filter(
                encounter__episode_id=episode.pk, completed_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
            scheduled = _schedule_check_ins(episode, actor, discharged_on, months)
        record(
            "episode.phase",
            actor=actor,
            client_id=episode.client_id,
            object_type="episode",
            object_id=episode.pk,
            detail={"from": episode.phase, "to": to, "check_ins": [c.months for c in scheduled]},
        )
        episode.refresh_from_db()
    return episode


def _reopen_checks(episode: Episode) -> None:
    others = Episode.objects.filter(client_id=episode.client_id).exclude(pk=episode.pk)
    if others.exclude(phase=Phase.CLOSED).exists():
        raise ActionError("This client already has another open episode.")


def _schedule_check_ins(
    episode: Episode, actor: Actor, discharged_on: date, months: tuple[int, ...]
) -> list[CheckIn]:
    from alliance.agency.tasks import send_check_in

    rows = []
    for m in months:
        due = add_months(discharged_on, m)
        starts = timezone.make_aware(datetime.combine(due, time(9, 0)))
        encounter = Encounter.objects.create(
            organisation_id=episode.organisation_id,
            client_id=episode.client_id,
            episode=episode,
            clinician=actor.membership,
            starts_at=starts,
            kind=EncounterKind.FOLLOW_UP,
        )
        rows.append(
            CheckIn.objects.create(
                organisation_id=episode.organisation_id,
                episode=episode,
                encounter=encounter,
                months=m,
                due_on=due,
            )
        )
    # The worker sends each link on its day; nothing polls.
    for row in rows:
        run_after = timezone.make_aware(datetime.combine(row.due_on, time(9, 0)))
        pk = row.pk
        transaction.on_commit(partial(_enqueue, send_check_in, pk, run_after))
    return rows


def _enqueue(task: object, pk: int, at: datetime) -> None:
    task.using(run_after=at).enqueue(pk)  # type: ignore[attr-defined]


@audit_refusals("episode.review")
def do_review_plan(
    actor: Actor,
    episode_id: int,
    *,
    planned: int,
    note: str,
    version: int,
    client_id: int | None = None,
) -> Review:
    if not 1 <= planned <= 200:
        raise ActionError("Planned sessions must be between 1 and 200.")
    note = " ".join(note.split())
    if len(note) > 600:
        raise ActionError("The review note can be at most 600 characters.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="episode.review", client_id=client_id)
        if episode.phase == Phase.CLOSED:
            raise ActionError("This episode is closed.")
        attended = attended_sessions(episode)
        if planned < attended:
            raise ActionError(f"{attended} sessions are already attended; plan at least that many.")
        review = Review.objects.create(
            organisation_id=episode.organisation_id,
            episode=episode,
            at=timezone.now(),
            by=actor.membership,
            attended=attended,
            planned_before=episode.planned_sessions,
            planned_after=planned,
            note=note,
        )
        bump_version(Episode, episode.pk, version, planned_sessions=planned)
        record(
            "episode.review",
            actor=actor,
            client_id=episode.client_id,
            object_type="episode",
            object_id=episode.pk,
            detail={"planned": planned, "attended": attended},
        )
    return review


@audit_refusals("relapse_plan.save")
def do_save_relapse_plan(
    actor: Actor,
    episode_id: int,
    *,
    fields: dict[str, str],
    version: int | None,
    client_id: int | None = None,
) -> RelapsePlan:
    """Write or rewrite the plan; `version` None means none existed when the form was read."""
    cleaned = {}
    for name in PLAN_FIELDS:
        text = str(fields.get(name, "")).strip().replace("\r\n", "\n")
        if "\x00" in text:
            raise ActionError("The plan contains a character that cannot be stored.")
        if len(text) > PLAN_TEXT:
            raise ActionError(f"“{PLAN_LABELS[name]}” can be at most {PLAN_TEXT} characters.")
        cleaned[name] = text
    if not any(cleaned.values()):
        raise ActionError("Write at least one part of the plan.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="relapse_plan.save", client_id=client_id)
        if episode.phase not in (Phase.ENDING, Phase.FOLLOW_UP):
            raise ActionError("The relapse-prevention plan is written in the ending phase.")
        now = timezone.now()
        existing = RelapsePlan.objects.filter(episode=episode).first()
        if existing is None:
            if version is not None:
                raise StaleWrite
            try:
                with transaction.atomic():  # a second first writer meets the unique episode
                    plan = RelapsePlan.objects.create(
                        organisation_id=episode.organisation_id,
                        client_id=episode.client_id,
                        episode=episode,
                        updated_at=now,
                        updated_by=actor.membership,
                        **cleaned,
                    )
            except IntegrityError:
                raise StaleWrite from None
        else:
            bump_version(
                RelapsePlan,
                existing.pk,
                version or 0,
                updated_at=now,
                updated_by=actor.membership,
                **cleaned,
            )
            plan = RelapsePlan.objects.get(pk=existing.pk)
        record(
            "relapse_plan.save",
            actor=actor,
            client_id=episode.client_id,
            object_type="relapse_plan",
            object_id=plan.pk,
        )
    return plan


def attended_sessions(episode: Episode) -> int:
    return (
        Encounter.objects.filter(episode=episode, attendance=Attendance.ATTENDED)
        .exclude(kind=EncounterKind.FOLLOW_UP)
        .count()
    )


@dataclass
class EndingView:
    attended: int
    planned: int | None
    indicators: list[readiness.Indicator]
    drift: list[readiness.Drift]
    moves: tuple[str, ...]


def ending_view(episode: Episode, series: list[Series] | None = None) -> EndingView:
    """The readiness indicators and drift flags of an episode (the caller has checked access).
    `series`: the episode's scores when the caller has read them already."""
    clinic = clinic_settings(episode.organisation_id)
    series = episode_series(episode) if series is None else series
    outcomes = [
        readiness.Outcome(s.instrument, s.name, [p.total for p in s.points])
        for s in series
        if s.instrument.reliable_change is not None
    ]
    alliance = next((s for s in series if s.instrument.id == "alliance-session-check"), None)
    open_rupture = Alert.objects.filter(episode=episode, kind=Kind.RUPTURE).unresolved().exists()
    goals = list(
        Goal.objects.filter(episode=episode, status=GoalStatus.ACTIVE).values_list("pk", flat=True)
    )
    latest: dict[int, int] = {}
    for goal_id, rating in (
        GoalRating.objects.filter(goal_id__in=goals)
        .order_by("rated_at", "pk")
        .values_list("goal_id", "rating")
    ):
        latest[goal_id] = rating
    attended = attended_sessions(episode)
    last_review = Review.objects.filter(episode=episode).order_by("-at", "-pk").first()
    return EndingView(
        attended=attended,
        planned=episode.planned_sessions,
        indicators=[
            readiness.improvement_held(outcomes),
            readiness.below_cutoff(outcomes),
            readiness.goals_attained([latest.get(g) for g in goals]),
            readiness.alliance_steady(
                [p.total for p in alliance.points] if alliance else [],
                open_rupture,
                clinic.rupture_floor,
            ),
        ],
        drift=readiness.drift_flags(
            outcomes,
            attended=attended,
            planned=episode.planned_sessions,
            reviewed_at_or_after=last_review.attended if last_review else None,
        ),
        moves=MOVES.get(episode.phase, ()),
    )


def send_check_in(check_in_id: int) -> str:
    """On its day: make the check-in's link and email it (the worker runs this)."""
    from alliance.measures.actions import create_system_link

    with transaction.atomic():
        row = (
            CheckIn.objects.select_for_update()
            .select_related("episode", "encounter__client")
            .filter(pk=check_in_id)
            .first()
        )
        if row is None or row.status != CheckInStatus.SCHEDULED:
            return "not needed"
        if row.episode.phase != Phase.FOLLOW_UP:
            CheckIn.objects.filter(pk=row.pk).update(status=CheckInStatus.CANCELLED)
            return "episode no longer in follow-up"
        sent = create_system_link(row.encounter, email=bool(row.encounter.client.email))
        CheckIn.objects.filter(pk=row.pk).update(status=CheckInStatus.SENT, sent_at=timezone.now())
        record(
            "check_in.send",
            organisation_id=row.organisation_id,
            client_id=row.encounter.client_id,
            object_type="check_in",
            object_id=row.pk,
            detail={"emailed": sent},
        )
    return "sent" if sent else "link ready (no email address)"
