"""The journal and wellbeing pages: clinical members only, and each shows its author alone.

Thin: reads go through access.py, changes through actions.py.
"""

from __future__ import annotations

import base64

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.charts.figure import day
from alliance.charts.svg import scene_svg
from alliance.clients.errors import ActionError
from alliance.clients.models import Client
from alliance.journal import actions, wellbeing
from alliance.journal.access import Entry, access_entry, read_entry, read_journal, search
from alliance.journal.export import journal_markdown
from alliance.journal.forms import (
    CheckinForm,
    DeleteAllForm,
    EditEntryForm,
    EntryForm,
    PreferenceForm,
)
from alliance.journal.trend import Point, trend_scene
from alliance.web.decorators import clinical_view

PAGE_SIZE = 20


@clinical_view
@require_http_methods(["GET"])
def journal(request: HttpRequest, actor: Actor) -> HttpResponse:
    words = request.GET.get("q", "")[:200]
    tag = request.GET.get("tag", "")[:40]
    entries = read_journal(actor, searching=bool(words.strip() or tag.strip()))
    found = search(entries, words, tag)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    tags = sorted({t for e in entries for t in e.content.tags}, key=str.casefold)
    context = {"page": page, "q": words, "tag": tag, "tags": tags, "total": len(entries)}
    return render(request, "journal/list.html", context)


def _form_page(
    request: HttpRequest, template: str, status: int = 200, **context: object
) -> HttpResponse:
    return render(request, template, context, status=status)


@clinical_view
@require_http_methods(["GET", "POST"])
def journal_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = EntryForm(actor, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = actions.create_entry(actor, form.content())
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Saved to your journal.")
            return HttpResponseRedirect(reverse("journal_entry", args=[entry.pk]))
    status = 400 if request.method == "POST" else 200
    return _form_page(request, "journal/new.html", status, form=form)


def _linked_client(actor: Actor, entry: Entry) -> str:
    """The linked client's name, if the author still sees them; resolved for the author only."""
    ref = entry.content.client_ref
    if ref is None:
        return ""
    client = Client.objects.visible_to(actor).filter(pk=ref).first()
    return client.display_name if client else "a client no longer on your caseload"


@clinical_view
@require_http_methods(["GET", "POST"])
def journal_entry(request: HttpRequest, actor: Actor, entry_id: int) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = EditEntryForm(actor, request.POST)
        if form.is_valid():
            try:
                actions.update_entry(actor, entry_id, form.cleaned_data["version"], form.content())
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Saved. The earlier wording is kept in the history.")
                return HttpResponseRedirect(reverse("journal_entry", args=[entry_id]))
        status = 400
    entry = read_entry(access_entry(actor, entry_id), history=True)
    if request.method == "GET":
        initial = {**EntryForm.initial_from(entry.content), "version": entry.version}
        form = EditEntryForm(actor, initial=initial)
    context = {"entry": entry, "form": form, "client_name": _linked_client(actor, entry)}
    return _form_page(request, "journal/entry.html", status, **context)


@clinical_view
@require_http_methods(["GET", "POST"])
def journal_entry_delete(request: HttpRequest, actor: Actor, entry_id: int) -> HttpResponse:
    if request.method == "POST":
        actions.delete_entry(actor, entry_id)
        messages.success(request, "The entry and its history are deleted for good.")
        return HttpResponseRedirect(reverse("journal"))
    entry = read_entry(access_entry(actor, entry_id))
    return _form_page(request, "journal/delete_entry.html", entry=entry)


@clinical_view
@require_http_methods(["GET"])
def journal_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    text = journal_markdown(actor, timezone.now())
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="journal.md"'
    return response


@clinical_view
@require_http_methods(["GET", "POST"])
def journal_delete_all(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = DeleteAllForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        count = actions.delete_journal(actor)
        messages.success(request, f"Your journal is deleted for good ({count} entries).")
        return HttpResponseRedirect(reverse("journal"))
    status = 400 if request.method == "POST" else 200
    return _form_page(request, "journal/delete_all.html", status, form=form)


# --- wellbeing --------------------------------------------------------------------------------


def _wellbeing_page(
    request: HttpRequest,
    actor: Actor,
    *,
    form: CheckinForm | None = None,
    pref_form: PreferenceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    checkins = wellbeing.recent_checkins(actor)
    pref = wellbeing.preference(actor)
    points = [
        Point(day(timezone.localtime(c.at)), c.energy, c.load, c.meaning, c.support)
        for c in checkins
    ]
    scene = trend_scene(points)
    svg = base64.b64encode(scene_svg(scene).encode("utf-8")).decode("ascii")
    context = {
        "form": form or CheckinForm(),
        "pref_form": pref_form
        or PreferenceForm(initial={"rhythm_days": pref.rhythm_days, "prompts_on": pref.prompts_on}),
        "checkins": list(reversed(checkins)),
        "chart_src": f"data:image/svg+xml;base64,{svg}",
        "chart": scene,
        "heavy_note": wellbeing.heavy_note(checkins, pref),
        "reminder": wellbeing.reminder(checkins, pref, now),
        "intensity": wellbeing.intensity(actor, now),
    }
    return render(request, "journal/wellbeing.html", context, status=status)


@clinical_view
@require_http_methods(["GET", "POST"])
def wellbeing_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "GET":
        wellbeing.audit_view(actor)
        return _wellbeing_page(request, actor)
    form = CheckinForm(request.POST)
    if form.is_valid():
        actions.record_checkin(actor, form.ratings())
        messages.success(request, "Check-in saved. Thank you for taking the minute.")
        return HttpResponseRedirect(reverse("wellbeing"))
    return _wellbeing_page(request, actor, form=form, status=400)


@clinical_view
@require_POST
def wellbeing_rhythm(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = PreferenceForm(request.POST)
    if form.is_valid():
        actions.set_preference(
            actor, form.cleaned_data["rhythm_days"], form.cleaned_data["prompts_on"]
        )
        messages.success(request, "Your check-in rhythm is saved.")
        return HttpResponseRedirect(reverse("wellbeing"))
    return _wellbeing_page(request, actor, pref_form=form, status=400)
