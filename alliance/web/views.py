"""The home page (the caseload for clinical staff) and the plain pages around it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from alliance.accounts.actor import Actor
from alliance.clients.models import Phase
from alliance.measures.caseload import SORTS, alert_kinds, alliance_trend, caseload, changes
from alliance.web.decorators import member_view

PAGE_SIZE = 50
PHASE_LABELS = dict(Phase.choices)


@member_view
def home(request: HttpRequest, actor: Actor) -> HttpResponse:
    if actor.membership.is_admin:
        return HttpResponseRedirect(reverse("manage_users"))
    sort = request.GET.get("sort", "attention")
    if sort not in SORTS:
        sort = "attention"
    phase = request.GET.get("phase", "")
    if phase not in Phase.values or phase == Phase.CLOSED:
        phase = ""
    query = request.GET.get("q", "").strip()[:60]
    attention = request.GET.get("attention") == "1"
    rows = caseload(actor, sort=sort, phase=phase, query=query, attention_only=attention)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    clients = list(page.object_list)
    alerts = alert_kinds(clients)
    context = {
        "page": page,
        "rows": [
            {
                "client": c,
                "changes": changes(c),
                "alliance": alliance_trend(c),
                "alerts": alerts[c.pk],
            }
            for c in clients
        ],
        "attention": attention,
        "sort": sort,
        "sorts": SORTS,
        "phase": phase,
        "phases": [(v, label) for v, label in Phase.choices if v != Phase.CLOSED],
        "query": query,
        "filtered": bool(phase or query or attention),
    }
    return render(request, "web/caseload.html", context)


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
