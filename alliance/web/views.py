"""The home page (the caseload for clinical staff) and the plain pages around it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from alliance.accounts.actor import Actor
from alliance.clients.models import Phase
from alliance.measures.caseload import SORTS, caseload, rows_for_display
from alliance.measures.caseload_html import tbody
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
    number = request.GET.get("page", "1")
    page_number = min(int(number), 10_000) if number.isascii() and number.isdigit() else 1
    page = caseload(
        actor,
        sort=sort,
        phase=phase,
        query=query,
        attention_only=attention,
        page=max(page_number, 1),
        size=PAGE_SIZE,
    )
    filters = {"sort": sort, "phase": phase, "q": query}
    if attention:
        filters["attention"] = "1"
    context = {
        "rows": page.rows,
        "tbody": tbody(rows_for_display(page.rows)),
        "page": page,
        "previous_url": f"?{urlencode(filters | {'page': page.number - 1})}",
        "next_url": f"?{urlencode(filters | {'page': page.number + 1})}",
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
