"""The client's story page, opened from their link (no account): offer a few words for the
clinic's advocacy material, with consent, and withdraw any of them later."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from alliance.agency.own_page import usable
from alliance.clients.errors import ActionError, NotFound
from alliance.measures import actions
from alliance.measures.models import MeasureLink
from alliance.reports import stories
from alliance.reports.models import STORY_TEXT


def _link(token: str) -> MeasureLink | None:
    try:
        link = actions.find(token)
    except actions.LinkUnavailable:
        return None
    return link if usable(link) else None


@never_cache
@require_http_methods(["GET", "POST"])
def client_story(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(token)
    if link is None:
        return render(request, "agency/own_unavailable.html", status=404)
    error, words, status = "", "", 200
    if request.method == "POST":
        words = request.POST.get("words", "")
        try:
            stories.offer_story(link, words, consent=request.POST.get("consent") == "on")
        except ActionError as exc:
            error, status = str(exc), 400
        else:
            return HttpResponseRedirect(reverse("client_story", args=[token]) + "?sent=1")
    context = {
        "token": token,
        "rows": stories.link_stories(link),
        "error": error,
        "words": words,
        "limit": STORY_TEXT,
        "sent": request.GET.get("sent") == "1",
        "clinic": link.organisation.name,
    }
    return render(request, "reports/client_story.html", context, status=status)


@never_cache
@require_POST
def client_story_withdraw(request: HttpRequest, token: str, story_id: int) -> HttpResponse:
    link = _link(token)
    if link is None:
        return render(request, "agency/own_unavailable.html", status=404)
    try:
        stories.withdraw_by_client(link, story_id)
    except NotFound:
        return render(request, "agency/own_unavailable.html", status=404)
    return HttpResponseRedirect(reverse("client_story", args=[token]) + "?withdrawn=1")
