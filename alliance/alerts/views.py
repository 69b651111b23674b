"""An alert's page: why it fired, the safety checklist, acknowledge and resolve."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.alerts import actions
from alliance.alerts.checklist import SAFETY_CHECKLIST
from alliance.alerts.models import Kind
from alliance.clients.errors import ActionError
from alliance.web.decorators import clinical_view


def _version(request: HttpRequest) -> int:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1


@clinical_view
@require_http_methods(["GET"])
def alert_page(request: HttpRequest, actor: Actor, alert_id: int) -> HttpResponse:
    alert = actions.access_alert(actor, alert_id)
    context = {
        "alert": alert,
        "checklist": SAFETY_CHECKLIST,
        "is_risk": alert.kind == Kind.RISK,
        "is_rupture": alert.kind == Kind.RUPTURE,
    }
    return render(request, "alerts/alert.html", context)


@clinical_view
@require_POST
def alert_acknowledge(request: HttpRequest, actor: Actor, alert_id: int) -> HttpResponse:
    try:
        actions.do_acknowledge(actor, alert_id, version=_version(request))
        messages.success(request, "Acknowledged. Resolve it once you have followed it up.")
    except ActionError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("alert", args=[alert_id]))


@clinical_view
@require_POST
def alert_resolve(request: HttpRequest, actor: Actor, alert_id: int) -> HttpResponse:
    try:
        actions.do_resolve(
            actor,
            alert_id,
            note=request.POST.get("note", "")[:5000],
            checklist=request.POST.getlist("checklist"),
            version=_version(request),
        )
        messages.success(request, "Resolved.")
    except ActionError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("alert", args=[alert_id]))
