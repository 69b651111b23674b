"""The home page (the caseload for clinical staff) and the plain pages around it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from alliance.accounts.actor import Actor
from alliance.clients.caseload import SORTS, caseload
from alliance.clients.models import Phase
from alliance.web.decorators import member_view

PAGE_SIZE = 50


@member_view
def home(request: HttpRequest, actor: Actor) -> HttpResponse:
    if actor.membership.is_admin:
        return HttpResponseRedirect(reverse("manage_users"))
    sort = request.GET.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    phase = request.GET.get("phase", "")
    if phase not in Phase.values:
        phase = ""
    query = request.GET.get("q", "").strip()[:60]
    rows = caseload(actor, sort=sort, phase=phase, query=query)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "sort": sort,
        "sorts": SORTS,
        "phase": phase,
        "phases": Phase.choices,
        "query": query,
        "filtered": bool(phase or query),
    }
    return render(request, "web/caseload.html", context)


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
