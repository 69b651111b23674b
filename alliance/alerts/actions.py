"""Opening alerts from new scores, and the clinician's acknowledge / resolve steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import ClinicSettings
from alliance.alerts import fixed, rules
from alliance.alerts.checklist import CHECKLIST_KEYS
from alliance.alerts.models import PRIORITY, Alert, AlertQuerySet, Kind, Status
from alliance.audit.log import EntryFields, record
from alliance.audit.models import Outcome
from alliance.clients.access import MAX_ID, visible_clients
from alliance.clients.errors import ActionError, NotFound, StaleWrite, audit_refusals
from alliance.measurement import Instrument, ScoreResult
from alliance.measures.models import Response
from alliance.notify.models import Message
from alliance.trajectories.expected import expected_for

ALLIANCE_CHECK = "alliance-session-check"
FOLLOW_UP_VISIT = fixed.FOLLOW_UP_VISIT


def visible_alerts(actor: Actor) -> AlertQuerySet:
    """The alerts of the clients this actor may see; the one definition of who sees an alert."""
    return Alert.objects.filter(client__in=visible_clients(actor))


def open_risk_alerts(actor: Actor, limit: int = 5) -> list[dict[str, Any]]:
    """Risk alerts nobody has acknowledged, for the banner on every page (audited when shown)."""
    rows = [
        {"pk": pk, "client_id": client_id, "client__display_name": name}
        for pk, client_id, name in fixed.open_risk(actor, limit)
    ]
    if rows:
        record(
            "alert.banner",
            actor=actor,
            object_type="alert",
            detail={"alerts": [r["pk"] for r in rows]},
        )
    return rows


def access_alert(actor: Actor, alert_id: int, *, action: str = "alert.view") -> Alert:
    alert = (
        visible_alerts(actor)
        .select_related("client")
        .filter(pk=alert_id if 0 < alert_id <= MAX_ID else 0)
        .first()
    )
    if alert is None:
        record(action, actor=actor, object_type="alert", object_id=alert_id, outcome=Outcome.DENIED)
        raise NotFound("alert", alert_id)
    record(action, actor=actor, client_id=alert.client_id, object_type="alert", object_id=alert.pk)
    return alert


@dataclass(frozen=True)
class Scored:
    """A response with the measurement core's result for it."""

    response: Response
    instrument: Instrument
    result: ScoreResult


@dataclass
class Findings:
    """What the rules say about new responses; `apply` writes it."""

    signals: list[tuple[rules.Signal, Response]] = field(default_factory=list)
    # The episode's unresolved alerts by kind, read with the episode's history.
    open_ids: dict[str, int] = field(default_factory=dict)
    # Resolved ruptures waiting for the next rating, with the rating that answers them.
    follow_ups: list[tuple[Alert, int]] = field(default_factory=list)


def assess(
    episode_id: int,
    scored: list[Scored],
    clinic: ClinicSettings,
    *,
    stored_pk: int | None = None,
    history: fixed.History | None = None,
) -> Findings:
    """Apply the rules to new responses of one episode. Reads, never writes.

    Kept apart from `apply` so a submission can do this work before its transaction starts and
    hold its locks only for the writes. `stored_pk` leaves out a response already saved.
    `history` is the episode's, when the caller read it already (with the link it answers).
    """
    thresholds = rules.Thresholds(
        rupture_floor=clinic.rupture_floor,
        rupture_drop=clinic.rupture_drop,
        not_on_track_session=clinic.not_on_track_session,
    )
    tracked = {
        s.instrument.id
        for s in scored
        if s.result.complete and (s.instrument.reliable_change or s.instrument.id == ALLIANCE_CHECK)
    }
    assert history is None or stored_pk is None, "a given history cannot leave a response out"
    past = history if history is not None else fixed.read(episode_id, tracked, stored_pk)
    earlier, treatment = past.totals, past.treatment
    findings = Findings(open_ids=past.open_ids)
    for item in scored:
        findings.signals += [
            (signal, item.response) for signal in rules.risk_signals(item.instrument, item.result)
        ]
        if item.instrument.id not in tracked or item.result.total is None:
            continue
        totals = [*earlier.get(item.instrument.id, []), item.result.total]
        if _is_follow_up(item.response) and item.instrument.id != ALLIANCE_CHECK:
            in_treatment = treatment.get(item.instrument.id, [])
            signals = rules.follow_up_signals(item.instrument, in_treatment, item.result.total)
        elif item.instrument.id == ALLIANCE_CHECK:
            signals = rules.rupture_signals(totals, thresholds)
            if len(totals) >= 2:
                findings.follow_ups += [(a, totals[-1]) for a in _awaiting_follow_up(episode_id)]
        else:
            # Measured sessions are treatment sessions: a client back in care after discharge
            # counts from their last session, not from the check-ins in between.
            in_treatment = [*treatment.get(item.instrument.id, []), item.result.total]
            expected = expected_for(clinic, item.instrument.id)
            signals = rules.change_signals(item.instrument, in_treatment, thresholds, expected)
        findings.signals += [(signal, item.response) for signal in signals]
    return findings


def apply(findings: Findings) -> None:
    """Write what `assess` found, in the caller's transaction (responses already saved)."""
    for alert, latest in findings.follow_ups:
        before = alert.facts.get("latest")
        change = f" ({latest - before:+d} since the rupture)" if isinstance(before, int) else ""
        Alert.objects.filter(pk=alert.pk, follow_up="").update(
            follow_up=f"Next alliance check after the repair: {latest}/40{change}"
        )
    for signal, response in findings.signals:
        _open_or_refresh(response, signal, findings.open_ids)


def evaluate(
    response: Response, instrument: Instrument, result: ScoreResult, clinic: ClinicSettings
) -> None:
    """Open or refresh the alerts a stored response calls for, in the caller's transaction."""
    scored = [Scored(response, instrument, result)]
    apply(assess(response.episode_id, scored, clinic, stored_pk=response.pk))


def _is_follow_up(response: Response) -> bool:
    """A response to a follow-up check-in after discharge."""
    encounter = response.encounter if response.encounter_id is not None else None
    return encounter is not None and encounter.kind == FOLLOW_UP_VISIT


def _awaiting_follow_up(episode_id: int) -> list[Alert]:
    return list(
        Alert.objects.filter(
            episode_id=episode_id, kind=Kind.RUPTURE, status=Status.RESOLVED, follow_up=""
        )
    )


def _open_or_refresh(response: Response, signal: rules.Signal, open_ids: dict[str, int]) -> None:
    """A new signal of a kind already unresolved updates that alert (a new risk answer re-opens
    it); otherwise a new alert opens. `open_ids` was read before the transaction began."""
    existing = open_ids.get(signal.kind)
    alert = Alert(
        organisation_id=response.organisation_id,
        client_id=response.client_id,
        episode_id=response.episode_id,
        response=response,
        kind=signal.kind,
        priority=PRIORITY[Kind(signal.kind)],
        reason=signal.reason,
        facts=signal.facts,
        opened_at=timezone.now(),
    )
    # Only if nobody resolved it meanwhile; a resolved one makes way for a new alert.
    if existing is not None:
        if signal.kind == Kind.RISK:  # a new risk answer tells the care team again
            notices = fixed.refresh_and_notify(existing, alert, _notice(alert))
        else:
            notices = [] if fixed.refresh(existing, alert) else None
        if notices is not None:
            record("alert.refresh", **refresh_entry(response, existing, signal.kind))
            _send_notices(existing, notices)
            return
    notices = fixed.open_and_notify(alert, _notice(alert))
    if notices is None:  # a concurrent submission opened it a moment ago
        current = Alert.objects.filter(
            episode_id=response.episode_id, kind=signal.kind
        ).unresolved()
        _open_or_refresh(response, signal, {signal.kind: current.values_list("pk", flat=True)[0]})
        return
    record(
        "alert.open",
        organisation_id=response.organisation_id,
        client_id=response.client_id,
        object_type="alert",
        object_id=alert.pk,
        detail={"kind": signal.kind},
    )
    _send_notices(alert.pk, notices)


def refresh_entry(response: Response, alert_id: int, kind: str) -> EntryFields:
    """What the audit entry of an alert's refresh says."""
    return {
        "organisation_id": response.organisation_id,
        "client_id": response.client_id,
        "object_type": "alert",
        "object_id": alert_id,
        "detail": {"kind": kind},
    }


def only_refreshes(findings: Findings) -> list[fixed.Refresh] | None:
    """What `apply` would write, when that is no more than refreshing unresolved alerts of
    kinds that notify nobody, each once (a submission can then write them in its own single
    statement: measures.submit_sql); None when `apply` has more to do."""
    refreshes: list[fixed.Refresh] = []
    for signal, response in findings.signals:
        existing = findings.open_ids.get(signal.kind)
        if existing is None or signal.kind == Kind.RISK:
            return None  # a new alert, or notices to write
        refreshes.append(
            fixed.Refresh(
                existing, signal.kind, signal.reason, signal.facts, response.instrument_id
            )
        )
    if findings.follow_ups or len({r.kind for r in refreshes}) < len(refreshes):
        return None
    return refreshes


def queue_notices(alert_id: int, alert: Alert) -> int:
    """Write the alert's notices in the caller's transaction, with the one job that sends them
    all (the worker then runs one job per alert, not one per email); how many were written.
    `alert` gives the kind, client and clinic; `alert_id` is the stored alert's."""
    ids = write_notices(alert)
    _send_notices(alert_id, ids)
    return len(ids)


def _send_notices(alert_id: int, ids: list[int]) -> None:
    """The one job that sends an alert's notices, queued in the caller's transaction."""
    from alliance.alerts.tasks import send_notices

    if ids:
        send_notices.enqueue(alert_id, ids)


def notice_recipients(alert: Alert) -> list[str]:
    """The lead's email, and for a risk alert the whole care team's."""
    return fixed.recipients(alert)


def _notice(alert: Alert) -> Message:
    """The email each recipient of an alert's notices gets. It names no client."""
    label = Kind(alert.kind).label.lower()
    return Message(
        organisation_id=alert.organisation_id,
        kind=f"alert.{alert.kind}",
        subject="Alliance: an alert needs your attention",
        body=(
            f"A client on your caseload has a new alert ({label}).\n\n"
            f"Sign in to see it: {settings.ALLIANCE_BASE_URL}/\n\n"
            "This email names no client, by design."
        ),
        created_at=timezone.now(),
    )


def write_notices(alert: Alert) -> list[int]:
    """One email per recipient in the outbox, in the caller's transaction; the caller queues
    the job that sends them. The new messages' ids."""
    return fixed.write_notices(alert, _notice(alert))


@audit_refusals("alert.acknowledge")
def do_acknowledge(actor: Actor, alert_id: int, *, version: int) -> Alert:
    with transaction.atomic():
        alert = access_alert(actor, alert_id, action="alert.acknowledge")
        if alert.status != Status.OPEN:
            raise ActionError("This alert is not open.")
        _bump(
            alert.pk,
            version,
            status=Status.ACKNOWLEDGED,
            acknowledged_at=timezone.now(),
            acknowledged_by=actor.membership,
        )
        record(
            "alert.acknowledge",
            actor=actor,
            client_id=alert.client_id,
            object_type="alert",
            object_id=alert.pk,
        )
        alert.refresh_from_db()
    return alert


@audit_refusals("alert.resolve")
def do_resolve(
    actor: Actor, alert_id: int, *, note: str, checklist: list[str], version: int
) -> Alert:
    note = note.strip()
    with transaction.atomic():
        alert = access_alert(actor, alert_id, action="alert.resolve")
        if alert.status == Status.RESOLVED:
            raise ActionError("This alert is already resolved.")
        if alert.kind == Kind.RISK and sorted(set(checklist)) != sorted(CHECKLIST_KEYS):
            raise ActionError("Tick every step of the safety checklist before resolving.")
        if not note:
            what = "the repair conversation" if alert.kind == Kind.RUPTURE else "what was done"
            raise ActionError(f"Write a short note on {what}.")
        ticked = {key: key in checklist for key in CHECKLIST_KEYS}
        now = timezone.now()
        changes: dict[str, object] = {
            "status": Status.RESOLVED,
            "resolved_at": now,
            "resolved_by": actor.membership,
            "resolution_note": note[:5000],
            "checklist": ticked if alert.kind == Kind.RISK else {},
        }
        if alert.acknowledged_at is None:
            changes.update(acknowledged_at=now, acknowledged_by=actor.membership)
        _bump(alert.pk, version, **changes)
        record(
            "alert.resolve",
            actor=actor,
            client_id=alert.client_id,
            object_type="alert",
            object_id=alert.pk,
            detail={"kind": alert.kind},
        )
        alert.refresh_from_db()
    return alert


def _bump(alert_id: int, version: int, **changes: object) -> None:
    updated = Alert.objects.filter(pk=alert_id, version=version).update(
        version=F("version") + 1, **changes
    )
    if updated != 1:
        raise StaleWrite
