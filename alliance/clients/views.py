"""Client pages. Thin: each view reads through access_* and changes through actions."""

from __future__ import annotations

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership
from alliance.agency.endings import ending_view
from alliance.clients import actions
from alliance.clients.access import access_client
from alliance.clients.forms import (
    AttendanceForm,
    CareTeamAddForm,
    ClientForm,
    CloseEpisodeForm,
    EncounterForm,
    EpisodeForm,
)
from alliance.clients.models import Attendance, Client, Phase
from alliance.measures.models import Schedule, Timing
from alliance.measures.summary import episode_series
from alliance.measures.views import plan_rows
from alliance.web.decorators import clinical_view


def _client_url(client_id: int) -> str:
    return reverse("client", args=[client_id])


def _colleagues(actor: Actor, client: Client) -> list[tuple[int, str]]:
    on_team = client.care_team.filter(ended_at__isnull=True).values("membership_id")
    others = (
        Membership.objects.filter(organisation_id=actor.organisation_id, is_active=True)
        .exclude(role="admin")
        .exclude(pk__in=on_team)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
    return [(m.pk, str(m)) for m in others]


@clinical_view
@require_http_methods(["GET"])
def client_page(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    return _render_client(request, actor, client_id)


def _render_client(
    request: HttpRequest, actor: Actor, client_id: int, *, status: int = 200, **forms: Form
) -> HttpResponse:
    """The client page; a form sent back with errors is shown in place, with what was typed."""
    client = access_client(actor, client_id)
    care_team = client.care_team.filter(ended_at__isnull=True).select_related("membership__user")
    episodes = list(client.episodes.all())
    current = next((e for e in episodes if e.phase != Phase.CLOSED), None)
    encounters = list(current.encounters.select_related("clinician__user")) if current else []
    manage = actions.can_manage_care_team(actor, client)
    series = episode_series(current) if current else []
    alerts = list(
        client.alerts.select_related("episode").order_by("status", "priority", "-opened_at")[:20]
    )
    context: dict[str, object] = {
        "alerts": alerts,
        "series": series,
        "client": client,
        "care_team": care_team,
        "can_manage": manage,
        "care_form": CareTeamAddForm(colleagues=_colleagues(actor, client)) if manage else None,
        "episodes": episodes,
        "current": current,
        "encounters": encounters,
        "episode_form": EpisodeForm(),
        "close_form": CloseEpisodeForm(initial={"version": current.version}) if current else None,
        "encounter_form": EncounterForm(),
        "attendance_choices": Attendance.choices,
        "plan": plan_rows(current) if current else [],
        "timings": Timing.choices,
        "schedules": Schedule.choices,
        "me": actor.membership.pk,
        "drift": ending_view(current, series).drift if current else [],
    }
    context.update(forms)
    return render(request, "clients/client.html", context, status=status)


@clinical_view
@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = ClientForm(request.POST or None, organisation_id=actor.organisation_id)
    if request.method == "POST" and form.is_valid():
        try:
            client = actions.do_create_client(actor, **form.cleaned_data)
        except actions.ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Client registered. Open an episode of care next.")
            return HttpResponseRedirect(_client_url(client.pk))
    return render(request, "clients/client_new.html", {"form": form})


def _done(request: HttpRequest, client_id: int, error: Exception | None, ok: str) -> HttpResponse:
    if error is None:
        messages.success(request, ok)
    else:
        messages.error(request, str(error))
    return HttpResponseRedirect(_client_url(client_id))


@clinical_view
@require_POST
def care_team_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    client = access_client(actor, client_id, action="careteam.view")
    form = CareTeamAddForm(request.POST, colleagues=_colleagues(actor, client))
    if not form.is_valid():
        return _render_client(request, actor, client_id, status=400, care_form=form)
    try:
        actions.do_add_care_team_member(
            actor,
            client_id,
            membership_id=form.cleaned_data["membership"],
            care_role=form.cleaned_data["care_role"],
        )
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Added to the care team.")


@clinical_view
@require_POST
def care_team_end(
    request: HttpRequest, actor: Actor, client_id: int, member_id: int
) -> HttpResponse:
    try:
        actions.do_end_care_team_place(actor, client_id, member_id=member_id)
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Removed from the care team.")


@clinical_view
@require_POST
def episode_open(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    form = EpisodeForm(request.POST)
    if not form.is_valid():
        return _render_client(request, actor, client_id, status=400, episode_form=form)
    try:
        actions.do_open_episode(actor, client_id, **form.cleaned_data)
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Episode opened.")


@clinical_view
@require_POST
def episode_close(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    form = CloseEpisodeForm(request.POST)
    if not form.is_valid():
        return _render_client(request, actor, client_id, status=400, close_form=form)
    try:
        actions.do_close_episode(actor, episode_id, client_id=client_id, **form.cleaned_data)
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Episode closed.")


@clinical_view
@require_POST
def encounter_new(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    form = EncounterForm(request.POST)
    if not form.is_valid():
        return _render_client(request, actor, client_id, status=400, encounter_form=form)
    try:
        actions.do_schedule_encounter(actor, episode_id, client_id=client_id, **form.cleaned_data)
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Session booked.")


@clinical_view
@require_POST
def encounter_attendance(
    request: HttpRequest, actor: Actor, client_id: int, encounter_id: int
) -> HttpResponse:
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        error = actions.ActionError("Choose attended, cancelled or did not attend, and save again.")
        return _done(request, client_id, error, "")
    try:
        actions.do_record_attendance(actor, encounter_id, client_id=client_id, **form.cleaned_data)
    except actions.ActionError as exc:
        return _done(request, client_id, exc, "")
    return _done(request, client_id, None, "Attendance recorded.")
