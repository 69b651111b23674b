"""Opening alerts from new scores, and the clinician's acknowledge / resolve steps."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import ClinicSettings
from alliance.alerts import rules
from alliance.alerts.checklist import CHECKLIST_KEYS
from alliance.alerts.models import PRIORITY, Alert, Kind, Status
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.clients.access import MAX_ID, visible_clients
from alliance.clients.errors import ActionError, NotFound, StaleWrite, audit_refusals
from alliance.clients.models import CareRole
from alliance.measurement import Instrument, ScoreResult
from alliance.measures.models import Response
from alliance.notify.outbox import queue_email

ALLIANCE_CHECK = "alliance-session-check"


def access_alert(actor: Actor, alert_id: int, *, action: str = "alert.view") -> Alert:
    alert = (
        Alert.objects.filter(client__in=visible_clients(actor))
        .select_related("client")
        .filter(pk=alert_id if 0 < alert_id <= MAX_ID else 0)
        .first()
    )
    if alert is None:
        record(action, actor=actor, object_type="alert", object_id=alert_id, outcome=Outcome.DENIED)
        raise NotFound("alert", alert_id)
    record(action, actor=actor, client_id=alert.client_id, object_type="alert", object_id=alert.pk)
    return alert


def evaluate(
    response: Response, instrument: Instrument, result: ScoreResult, clinic: ClinicSettings
) -> list[Alert]:
    """Open or refresh the alerts this response calls for. Runs in the submission's transaction."""
    thresholds = rules.Thresholds(
        rupture_floor=clinic.rupture_floor,
        rupture_drop=clinic.rupture_drop,
        not_on_track_session=clinic.not_on_track_session,
    )
    signals = rules.risk_signals(instrument, result)
    if result.complete and (instrument.reliable_change or instrument.id == ALLIANCE_CHECK):
        totals = _episode_totals(response)
        if instrument.id == ALLIANCE_CHECK:
            _follow_up_ruptures(response, totals)
            signals += rules.rupture_signals(totals, thresholds)
        else:
            signals += rules.change_signals(instrument, totals, thresholds)
    return [_open_or_refresh(response, signal) for signal in signals]


def _episode_totals(response: Response) -> list[int]:
    rows = Response.objects.filter(
        episode_id=response.episode_id,
        instrument_id=response.instrument_id,
        complete=True,
        submitted_at__lte=response.submitted_at,
    ).order_by("submitted_at", "pk")
    return [total for total in rows.values_list("total", flat=True) if total is not None]


def _follow_up_ruptures(response: Response, totals: list[int]) -> None:
    """The first rating after a rupture was resolved shows whether the repair worked."""
    if len(totals) < 2:
        return
    waiting = Alert.objects.filter(
        episode_id=response.episode_id, kind=Kind.RUPTURE, status=Status.RESOLVED, follow_up=""
    )
    for alert in waiting:
        before = alert.facts.get("latest")
        latest = totals[-1]
        change = f" ({latest - before:+d} since the rupture)" if isinstance(before, int) else ""
        Alert.objects.filter(pk=alert.pk).update(
            follow_up=f"Next alliance check after the repair: {latest}/40{change}"
        )


def _open_or_refresh(response: Response, signal: rules.Signal) -> Alert:
    now = timezone.now()
    existing = (
        Alert.objects.select_for_update()
        .filter(episode_id=response.episode_id, kind=signal.kind)
        .unresolved()
        .first()
    )
    if existing is not None:
        # A new signal of the same kind updates the open alert; a new risk answer re-opens it.
        status = Status.OPEN if signal.kind == Kind.RISK else existing.status
        Alert.objects.filter(pk=existing.pk).update(
            reason=signal.reason,
            facts=signal.facts,
            response=response,
            status=status,
            version=F("version") + 1,
        )
        record(
            "alert.refresh",
            organisation_id=response.organisation_id,
            client_id=response.client_id,
            object_type="alert",
            object_id=existing.pk,
            detail={"kind": signal.kind},
        )
        if signal.kind == Kind.RISK:
            _notify_care_team(response, signal.kind)
        existing.refresh_from_db()
        return existing
    alert = Alert.objects.create(
        organisation_id=response.organisation_id,
        client_id=response.client_id,
        episode_id=response.episode_id,
        response=response,
        kind=signal.kind,
        priority=PRIORITY[Kind(signal.kind)],
        reason=signal.reason,
        facts=signal.facts,
        opened_at=now,
    )
    record(
        "alert.open",
        organisation_id=response.organisation_id,
        client_id=response.client_id,
        object_type="alert",
        object_id=alert.pk,
        detail={"kind": signal.kind},
    )
    _notify_care_team(response, signal.kind)
    return alert


def _notify_care_team(response: Response, kind: str) -> None:
    """Email the lead (and for risk, the whole care team). The email names no client."""
    places = response.client.care_team.filter(ended_at__isnull=True).select_related(
        "membership__user"
    )
    if kind != Kind.RISK:
        places = places.filter(care_role=CareRole.LEAD)
    label = Kind(kind).label.lower()
    for place in places:
        email = place.membership.user.email
        if not email:
            continue
        queue_email(
            organisation_id=response.organisation_id,
            kind=f"alert.{kind}",
            to=email,
            subject="Alliance: an alert needs your attention",
            body=(
                f"A client on your caseload has a new alert ({label}).\n\n"
                f"Sign in to see it: {settings.ALLIANCE_BASE_URL}/\n\n"
                "This email names no client, by design."
            ),
        )


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
