"""The clinician's side of measures: a session's links, and who has not answered yet."""

from __future__ import annotations

from datetime import timedelta

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.alerts.rules import short_name
from alliance.clients.access import access_encounter, list_clients
from alliance.clients.errors import ActionError
from alliance.clients.models import Episode
from alliance.measurement import load_instrument
from alliance.measures import actions
from alliance.measures.models import MeasureLink, Schedule, Timing
from alliance.measures.plan import PlanEntry, instruments_due, plan_for, session_number
from alliance.web.decorators import clinical_view

PENDING_DAYS = 30


def _session_context(actor: Actor, client_id: int, encounter_id: int) -> dict[str, object]:
    encounter = access_encounter(actor, encounter_id, action="link.list", client_id=client_id)
    links = list(encounter.links.order_by("-created_at"))
    return {
        "encounter": encounter,
        "client": encounter.client,
        "number": session_number(encounter),
        "send_options": [
            (value, label, names(instruments_due(encounter.episode, encounter, value)))
            for value, label in Timing.choices
        ],
        "plan": [(entry, names([entry.instrument_id])) for entry in plan_for(encounter.episode)],
        "links": [(link, actions.state_of(link), names(link.instruments)) for link in links],
    }


def names(instrument_ids: list[str]) -> str:
    return ", ".join(short_name(load_instrument(i)) for i in instrument_ids)


@clinical_view
@require_http_methods(["GET"])
def session_measures(
    request: HttpRequest, actor: Actor, client_id: int, encounter_id: int
) -> HttpResponse:
    return render(
        request, "measures/session.html", _session_context(actor, client_id, encounter_id)
    )


@clinical_view
@require_POST
def link_create(
    request: HttpRequest, actor: Actor, client_id: int, encounter_id: int
) -> HttpResponse:
    timing = request.POST.get("timing", "")
    send_email = request.POST.get("send") == "email"
    try:
        link, token = actions.do_create_link(
            actor, encounter_id, timing=timing, send_email=send_email, client_id=client_id
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("session_measures", args=[client_id, encounter_id]))
    url = actions.link_url(token)
    context = _session_context(actor, client_id, encounter_id)
    context.update(
        new_link=link,
        new_url=url,
        qr=segno.make(url, error="m").svg_data_uri(scale=5),
        emailed=send_email,
    )
    # The token is shown this once: the page must not be cached or re-shown from history.
    return render(request, "measures/session.html", context)


@clinical_view
@require_http_methods(["GET"])
def pending(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Links sent in the last month and not answered: open ones and expired ones."""
    since = timezone.now() - timedelta(days=PENDING_DAYS)
    rows = (
        MeasureLink.objects.filter(
            client__in=list_clients(actor),
            created_at__gte=since,
            completed_at__isnull=True,
            revoked_at__isnull=True,
        )
        .select_related("client", "encounter")
        .order_by("expires_at")
    )
    now = timezone.now()
    items = [(link, "expired" if link.expires_at <= now else "open") for link in rows[:200]]
    return render(request, "measures/pending.html", {"items": items, "days": PENDING_DAYS})


@clinical_view
@require_POST
def plan_edit(request: HttpRequest, actor: Actor, client_id: int, episode_id: int) -> HttpResponse:
    """The plan form sends, per measure: when (not asked / before / after), how often, and N."""
    entries = []
    for instrument_id in actions.PLANNABLE:
        timing = request.POST.get(f"{instrument_id}-timing", "")
        if not timing:
            continue
        every = request.POST.get(f"{instrument_id}-every", "")
        entries.append(
            PlanEntry(
                instrument_id,
                timing,
                request.POST.get(f"{instrument_id}-schedule", ""),
                int(every) if every.isascii() and every.isdigit() and len(every) < 4 else None,
            )
        )
    try:
        actions.do_set_plan(actor, episode_id, entries, client_id=client_id)
        messages.success(request, "Measurement plan saved; new links follow it.")
    except ActionError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("client", args=[client_id]))


def plan_rows(episode: Episode) -> list[dict[str, object]]:
    """One row per measure that can be planned, with its current setting."""
    current = {entry.instrument_id: entry for entry in plan_for(episode)}
    rows: list[dict[str, object]] = []
    for instrument_id in actions.PLANNABLE:
        entry = current.get(instrument_id)
        rows.append(
            {
                "id": instrument_id,
                "name": names([instrument_id]),
                "timing": entry.timing if entry else "",
                "schedule": entry.schedule if entry else Schedule.EVERY,
                "every_n": entry.every_n if entry and entry.every_n else "",
            }
        )
    return rows
