"""Creating measure links, and taking a client's answers in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import ClinicSettings, clinic_settings
from alliance.alerts.actions import Scored, apply, assess, only_refreshes, refresh_entry
from alliance.alerts.fixed import History
from alliance.audit.log import EntryFields, after_known_head, audit_entry, batch, record
from alliance.clients.access import access_encounter, access_episode
from alliance.clients.errors import ActionError, audit_refusals
from alliance.clients.models import Encounter, EncounterKind, Phase
from alliance.measurement import MeasurementError, load_instrument, score
from alliance.measures import submit_sql
from alliance.measures.models import MeasureLink, PlanItem, Response, Schedule, Source, Timing
from alliance.measures.plan import DEFAULT_PLAN, PlanEntry, instruments_due
from alliance.notify.outbox import queue_email
from alliance.opaque import looks_like_token, new_token, token_hash


class LinkUnavailable(Exception):
    """The link cannot be used; `state` says why, for a kind page."""

    def __init__(self, state: str, link: MeasureLink | None = None) -> None:
        super().__init__(state)
        self.state = state
        self.link = link  # the link found, when there was one


# The goal-progress rating is asked once per goal of the client; the agency app stores it.
GOAL_PROGRESS = "alliance-goal-progress"
# Written in the submission's transaction after the link is claimed; returns audit detail.
Extras = Callable[[MeasureLink, datetime], dict[str, object]]


@dataclass
class Submitted:
    link: MeasureLink
    responses: list[Response] = field(default_factory=list)
    risk: bool = False
    repeated: bool = False  # the answers had already been received


def link_url(token: str) -> str:
    return f"{settings.ALLIANCE_BASE_URL}{reverse('measure_link', args=[token])}"


@audit_refusals("link.create")
def do_create_link(
    actor: Actor,
    encounter_id: int,
    *,
    timing: str,
    send_email: bool,
    client_id: int | None = None,
) -> tuple[MeasureLink, str]:
    """A fresh link for the session (replacing any unused one); the token is returned once."""
    if timing not in Timing.values:
        raise ActionError("Choose before or after the session.")
    with transaction.atomic():
        encounter = access_encounter(actor, encounter_id, action="link.create", client_id=client_id)
        if encounter.episode.phase == Phase.CLOSED:
            raise ActionError("This episode is closed; open a new one to send measures.")
        instruments = instruments_due(encounter.episode, encounter, timing)
        if not instruments:
            raise ActionError("The measurement plan asks for nothing at this point.")
        if send_email and not encounter.client.email:
            raise ActionError("This client has no email address; copy the link or show the QR.")
        link, token = _new_link(encounter, timing, instruments, created_by=actor)
        record(
            "link.create",
            actor=actor,
            client_id=encounter.client_id,
            object_type="link",
            object_id=link.pk,
            detail={"timing": timing, "instruments": instruments},
        )
        if send_email:
            _email_link(link, token, reminder=False)
            record(
                "link.email",
                actor=actor,
                client_id=encounter.client_id,
                object_type="link",
                object_id=link.pk,
            )
    return link, token


def _new_link(
    encounter: Encounter, timing: str, instruments: list[str], *, created_by: Actor | None
) -> tuple[MeasureLink, str]:
    now = timezone.now()
    MeasureLink.objects.filter(
        encounter=encounter, timing=timing, completed_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token, hashed = new_token()
    hours = clinic_settings(encounter.organisation_id).link_hours
    link = MeasureLink.objects.create(
        organisation_id=encounter.organisation_id,
        client_id=encounter.client_id,
        encounter=encounter,
        timing=timing,
        instruments=instruments,
        token_hash=hashed,
        created_by=created_by.membership if created_by else None,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    return link, token


def create_system_link(encounter: Encounter, *, email: bool) -> bool:
    """A link made by the worker (a follow-up check-in on its day); True when emailed."""
    instruments = instruments_due(encounter.episode, encounter, Timing.BEFORE)
    if not instruments:
        instruments = [e.instrument_id for e in DEFAULT_PLAN if e.timing == Timing.BEFORE]
    link, token = _new_link(encounter, Timing.BEFORE, instruments, created_by=None)
    record(
        "link.create",
        organisation_id=encounter.organisation_id,
        client_id=encounter.client_id,
        object_type="link",
        object_id=link.pk,
        detail={"timing": Timing.BEFORE, "instruments": instruments},
    )
    if email and encounter.client.email:
        _email_link(link, token, reminder=False)
        return True
    return False


def _email_link(link: MeasureLink, token: str, *, reminder: bool) -> None:
    from alliance.measures.tasks import remind

    client = link.client
    opening = "A reminder: your" if reminder else "Your"
    queue_email(
        organisation_id=link.organisation_id,
        kind="link.reminder" if reminder else "link",
        to=client.email,
        subject=_subject(link),
        body=(
            f"{opening} questions are ready. They take a few minutes:\n\n{link_url(token)}\n\n"
            f"The link works once and until {timezone.localtime(link.expires_at):%d %b %H:%M}. "
            "If it has expired, ask your therapist for a new one.\n"
        ),
    )
    MeasureLink.objects.filter(pk=link.pk).update(emailed_at=timezone.now())
    if not reminder:
        hours = clinic_settings(link.organisation_id).reminder_hours
        remind.using(run_after=timezone.now() + timedelta(hours=hours)).enqueue(link.pk)


def _subject(link: MeasureLink) -> str:
    if link.encounter.kind == EncounterKind.FOLLOW_UP:
        return "Checking in: how have you been?"
    if link.timing == Timing.BEFORE:
        return "A few questions before your session"
    return "How was today's session?"


def send_reminder(link_id: int) -> bool:
    """Replace an unanswered emailed link with a fresh one and email it (once per link)."""
    with transaction.atomic():
        link = MeasureLink.objects.select_related("client", "encounter").filter(pk=link_id).first()
        if link is None or state_of(link) != "open" or link.reminders_sent or not link.client.email:
            return False
        fresh, token = _new_link(link.encounter, link.timing, link.instruments, created_by=None)
        MeasureLink.objects.filter(pk=fresh.pk).update(reminders_sent=link.reminders_sent + 1)
        fresh.refresh_from_db()
        _email_link(fresh, token, reminder=True)
        record(
            "link.remind",
            organisation_id=link.organisation_id,
            client_id=link.client_id,
            object_type="link",
            object_id=fresh.pk,
        )
    return True


def state_of(link: MeasureLink, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if link.completed_at:
        return "completed"
    if link.revoked_at:
        return "replaced"
    if link.expires_at <= now:
        return "expired"
    return "open"


def open_link(token: str) -> MeasureLink:
    """The link behind a token, if it can still be answered; the opening is audited."""
    link = _find(token)
    state = explain(link, state_of(link))
    record(
        "link.open",
        organisation_id=link.organisation_id,
        client_id=link.client_id,
        object_type="link",
        object_id=link.pk,
        detail={"state": state},
    )
    if state != "open":
        raise LinkUnavailable(state, link)
    return link


def explain(link: MeasureLink, state: str) -> str:
    """A link retired because the episode closed or the client was discharged says so."""
    if state == "replaced":
        found = (
            Encounter.objects.filter(pk=link.encounter_id)
            .values_list("episode__phase", "kind")
            .first()
        )
        if found is not None:
            phase, kind = found
            # A session's link retired at discharge or closing (a check-in's own link is not).
            if phase == Phase.CLOSED or (
                phase == Phase.FOLLOW_UP and kind != EncounterKind.FOLLOW_UP
            ):
                return "closed"
    return state


def find(token: str) -> MeasureLink:
    """The link behind a token in any state (for the client's own page); LinkUnavailable if none."""
    return _find(token)


def _find(token: str) -> MeasureLink:
    link = None
    if looks_like_token(token):
        link = (
            MeasureLink.objects.select_related("organisation", "client", "encounter__episode")
            .filter(token_hash=token_hash(token))
            .first()
        )
    if link is None:
        raise LinkUnavailable("unknown")
    return link


def peek(token: str) -> submit_sql.Found:
    """The link behind a token, with all a submission and its thank-you page read; nothing is
    written."""
    found = submit_sql.find(token_hash(token)) if looks_like_token(token) else None
    if found is None:
        raise LinkUnavailable("unknown")
    return found


def submit(
    token: str,
    answers: dict[str, dict[str, int]],
    *,
    link: MeasureLink | None = None,
    clinic: ClinicSettings | None = None,
    extras: Extras | None = None,
    history: History | None = None,
) -> Submitted:
    """Validate, score, store, evaluate alerts, audit and queue notices: all or nothing.

    Scoring and the alert rules run before the transaction, which then only writes: the link is
    claimed with one conditional UPDATE, so sending the same link twice (even at the same
    moment) stores one response, and the second sender hears that it was received.
    `extras` (the client's goal ratings, notes and thanks) are written in the same transaction.
    `history` is the episode's history, read with the link (`peek`).
    """
    if link is None or link.token_hash != token_hash(token):
        link, history = _find(token), None
    state = state_of(link)
    if state == "completed":
        return Submitted(link=link, repeated=True)
    if state != "open":
        raise LinkUnavailable(state)
    now = timezone.now()
    scored = [_scored(link, i, answers, now) for i in link.instruments if i != GOAL_PROGRESS]
    clinic = clinic or clinic_settings(link.organisation_id)
    findings = assess(link.encounter.episode_id, scored, clinic, history=history)
    result = Submitted(
        link=link,
        responses=[s.response for s in scored],
        risk=any(f.startswith("risk:") for s in scored for f in s.result.flags),
    )
    refreshes = only_refreshes(findings) if extras is None and _alone() else None
    if refreshes is not None:
        # Nothing but the claim, the responses, refreshed alerts and the audit entries to
        # write: on PostgreSQL that is one statement, committed on its own (when it cannot be,
        # it writes nothing). The entries come in the order the ordinary way records them.
        by_instrument = {r.instrument_id: r for r in result.responses}
        made = [
            audit_entry(
                "alert.refresh",
                **refresh_entry(by_instrument[r.instrument_id], r.alert_id, r.kind),
            )
            for r in refreshes
        ]
        made.append(
            audit_entry(
                "response.submit", **_submitted(link, {"instruments": list(link.instruments)})
            )
        )
        placed = after_known_head(made)
        try:
            stored = placed is not None and submit_sql.claim_store_and_record(
                link.pk, now, result.responses, made, placed, refreshes
            )
        except DatabaseError:
            # Nothing was written (one statement, outside a transaction): the ordinary way
            # below meets the same trouble and answers it as it always does.
            stored = False
        if stored:
            return result
    with transaction.atomic(), batch():
        if not submit_sql.claim_and_store(link.pk, now, result.responses):
            return _lost_claim(link)
        apply(findings)
        detail: dict[str, object] = {"instruments": list(link.instruments)}
        if extras is not None:
            detail.update(extras(link, now))
        record("response.submit", **_submitted(link, detail))
    return result


def _submitted(link: MeasureLink, detail: dict[str, Any]) -> EntryFields:
    """What the audit entry of a submission says."""
    return {
        "organisation_id": link.organisation_id,
        "client_id": link.client_id,
        "object_type": "link",
        "object_id": link.pk,
        "detail": detail,
    }


def _alone() -> bool:
    """On PostgreSQL, outside any transaction: where one statement commits on its own and
    can write a submission whole (SQLite has no data-modifying WITH)."""
    return connection.vendor == "postgresql" and connection.get_autocommit()


def _scored(
    link: MeasureLink, instrument_id: str, answers: dict[str, dict[str, int]], now: datetime
) -> Scored:
    instrument = load_instrument(instrument_id)
    given = answers.get(instrument_id, {})
    missing = [i.link_id for i in instrument.items if i.scored and i.link_id not in given]
    if missing:
        raise MeasurementError(f"{len(missing)} question(s) of {instrument.title} have no answer")
    result = score(instrument, given)
    response = Response(
        organisation_id=link.organisation_id,
        client_id=link.client_id,
        episode_id=link.encounter.episode_id,
        encounter=link.encounter,
        link=link,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        timing=link.timing,
        source=Source.LINK,
        answers=dict(given),
        total=result.total,
        band=result.band or "",
        complete=result.complete,
        flags=result.flags,
        submitted_at=now,
    )
    return Scored(response, instrument, result)


def _lost_claim(link: MeasureLink) -> Submitted:
    """Someone else's submission (or a new link) got there first."""
    link.refresh_from_db()
    state = state_of(link)
    if state == "completed":
        return Submitted(link=link, repeated=True)
    raise LinkUnavailable(state)


PLANNABLE = ("phq9", "gad7", "phq2", "gad2", "alliance-session-check", "alliance-goal-progress")


@audit_refusals("plan.change")
def do_set_plan(
    actor: Actor, episode_id: int, entries: list[PlanEntry], *, client_id: int | None = None
) -> list[PlanEntry]:
    """Replace the episode's measurement plan; at least one instrument stays in it."""
    if not entries:
        raise ActionError("Keep at least one measure in the plan.")
    for entry in entries:
        if entry.instrument_id not in PLANNABLE or entry.timing not in Timing.values:
            raise ActionError("Choose measures and timings from the lists.")
        if entry.schedule not in Schedule.values:
            raise ActionError("Choose when each measure is asked.")
        if entry.schedule == Schedule.EVERY_NTH and not (
            entry.every_n and 2 <= entry.every_n <= 20
        ):
            raise ActionError("Every Nth session needs N between 2 and 20.")
    if len({(e.instrument_id, e.timing) for e in entries}) != len(entries):
        raise ActionError("Each measure appears once before and once after the session at most.")
    with transaction.atomic():
        episode = access_episode(actor, episode_id, action="plan.change", client_id=client_id)
        if episode.phase == Phase.CLOSED:
            raise ActionError("This episode is closed.")
        PlanItem.objects.filter(episode=episode).delete()
        PlanItem.objects.bulk_create(
            PlanItem(
                organisation_id=episode.organisation_id,
                episode=episode,
                instrument_id=e.instrument_id,
                timing=e.timing,
                schedule=e.schedule,
                every_n=e.every_n if e.schedule == Schedule.EVERY_NTH else None,
            )
            for e in entries
        )
        record(
            "plan.change",
            actor=actor,
            client_id=episode.client_id,
            object_type="episode",
            object_id=episode.pk,
            detail={"plan": [[e.instrument_id, e.timing, e.schedule, e.every_n] for e in entries]},
        )
    return entries
