"""The client's own page and their plan as a PDF, opened with their link (no account)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliance.agency import own_page
from alliance.agency.models import RelapsePlan
from alliance.measures import actions
from alliance.measures.models import MeasureLink


def _own(token: str) -> tuple[MeasureLink, own_page.Own] | None:
    try:
        link = actions.find(token)
    except actions.LinkUnavailable:
        return None
    own = own_page.available(link)
    return (link, own) if own else None


@never_cache
@require_http_methods(["GET"])
def client_own(request: HttpRequest, token: str) -> HttpResponse:
    found = _own(token)
    if found is None:
        return render(request, "agency/own_unavailable.html", status=404)
    link, own = found
    view = own_page.read(link, own)
    sections = own_page.plan_sections(view.plan) if view.plan else []
    return render(request, "agency/own.html", {"view": view, "sections": sections, "token": token})


@never_cache
@require_http_methods(["GET"])
def client_plan_pdf(request: HttpRequest, token: str) -> HttpResponse:
    found = _own(token)
    if found is None:
        return render(request, "agency/own_unavailable.html", status=404)
    link, own = found
    plan = RelapsePlan.objects.filter(episode_id=link.encounter.episode_id).first()
    if plan is None:
        return render(request, "agency/own_unavailable.html", status=404)
    own_page.read(link, own)  # audited like the page
    body = own_page.plan_pdf(plan, link.organisation.name)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="my-plan-for-staying-well.pdf"'
    return response
