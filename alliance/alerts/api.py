"""Alert endpoints: the actor's alerts, one alert, and the acknowledge / resolve steps."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from alliance.alerts import actions
from alliance.alerts.models import Alert
from alliance.alerts.schemas import AcknowledgeIn, AlertFilter, AlertOut, AlertPage, ResolveIn
from alliance.audit.log import record
from alliance.clients.schemas import NOT_FOUND, REFUSED, ErrorOut
from alliance.web.api_util import actor_of

router = Router(tags=["alerts"])
CHANGED = {200: AlertOut, 400: ErrorOut, **NOT_FOUND}


@router.get(
    "/alerts",
    response={200: AlertPage, **REFUSED},
    summary="Alerts of your clients, most urgent first",
)
def alerts(request: HttpRequest, query: Query[AlertFilter]) -> AlertPage:
    actor = actor_of(request)
    rows = actions.visible_alerts(actor)
    if query.status:
        rows = rows.filter(status=query.status)
    record("alert.list", actor=actor, object_type="alert", detail={"status": query.status or ""})
    page = rows.order_by("priority", "-opened_at", "-pk")[query.offset : query.offset + query.limit]
    return AlertPage(count=rows.count(), items=[AlertOut.from_orm(a) for a in page])


@router.get("/alerts/{alert_id}", response={200: AlertOut, **NOT_FOUND})
def alert_detail(request: HttpRequest, alert_id: int) -> Alert:
    return actions.access_alert(actor_of(request), alert_id)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response=CHANGED,
    summary="Acknowledge an open alert (send the version you read)",
)
def alert_acknowledge(request: HttpRequest, alert_id: int, body: AcknowledgeIn) -> Alert:
    return actions.do_acknowledge(actor_of(request), alert_id, version=body.version)


@router.post(
    "/alerts/{alert_id}/resolve",
    response=CHANGED,
    summary="Resolve an alert with a note (a risk alert needs every checklist step)",
)
def alert_resolve(request: HttpRequest, alert_id: int, body: ResolveIn) -> Alert:
    return actions.do_resolve(
        actor_of(request),
        alert_id,
        note=body.note,
        checklist=body.checklist,
        version=body.version,
    )
