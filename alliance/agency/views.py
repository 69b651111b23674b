"""Clinician pages: goals and moments, the ending of an episode, the gratitude collection.
Thin: each view reads through access_* and changes through actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.agency import actions, endings, own_page
from alliance.agency.access import thanks_to_me, visible_moments, visible_thanks
from alliance.agency.forms import (
    FollowUpForm,
    GoalForm,
    MomentForm,
    PhaseForm,
    RateGoalForm,
    RelapsePlanForm,
    RetireGoalForm,
    ReviewForm,
    ReviseGoalForm,
)
from alliance.agency.models import (
    MAX_GOALS,
    ClientView,
    Goal,
    GoalRating,
    GoalStatus,
    KeptThanks,
    RelapsePlan,
)
from alliance.agency.ratings import RatingSpan
from alliance.agency.readiness import GOAL_ATTAINED
from alliance.clients.access import access_client, access_episode
from alliance.clients.errors import ActionError
from alliance.clients.models import Client, Episode, Phase
from alliance.web.decorators import clinical_view


def _goals_url(client_id: int) -> str:
    return reverse("client_goals", args=[client_id])


def _ending_url(client_id: int, episode_id: int) -> str:
    return reverse("episode_ending", args=[client_id, episode_id])


def _back(request: HttpRequest, url: str, error: Exception | None, ok: str) -> HttpResponse:
    if error is None:
        messages.success(request, ok)
    else:
        messages.error(request, str(error))
    return HttpResponseRedirect(url)


@dataclass
class GoalRow(RatingSpan):
    goal: Goal
    ratings: list[GoalRating]


def _episode_of(client: Client) -> Episode | None:
    """The open episode, else the latest one (its goals stay readable after it closes)."""
    episodes = list(client.episodes.all())
    return next((e for e in episodes if e.phase != Phase.CLOSED), episodes[0] if episodes else None)


@clinical_view
@require_http_methods(["GET"])
def goals_page(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    return _render_goals(request, actor, client_id)


def _render_goals(
    request: HttpRequest, actor: Actor, client_id: int, *, status: int = 200, **forms: Form
) -> HttpResponse:
    client = access_client(actor, client_id, action="goal.list")
    episode = _episode_of(client)
    goals = (
        list(Goal.objects.filter(episode=episode).prefetch_related("changes")) if episode else []
    )
    ratings: dict[int, list[GoalRating]] = {}
    for r in GoalRating.objects.filter(goal__in=goals).order_by("rated_at", "pk"):
        ratings.setdefault(r.goal_id, []).append(r)
    rows = [GoalRow(g, ratings.get(g.pk, [])) for g in goals]
    active = [r for r in rows if r.goal.status == GoalStatus.ACTIVE]
    attained = sum(1 for r in active if r.latest is not None and r.latest >= GOAL_ATTAINED)
    open_episode = episode is not None and episode.phase != Phase.CLOSED
    goal_choices = [(r.goal.pk, r.goal.text) for r in active]
    context: dict[str, object] = {
        "client": client,
        "episode": episode,
        "open_episode": open_episode,
        "rows": rows,
        "active_count": len(active),
        "attained": attained,
        "attained_at": GOAL_ATTAINED,
        "max_goals": MAX_GOALS,
        "moments": list(
            visible_moments(actor)
            .filter(client=client)
            .select_related("goal")
            .order_by("-happened_on", "-pk")[:100]
        ),
        "thanks": list(visible_thanks(actor).filter(client=client).select_related("to__user")[:50]),
        "collection_on": actions.collection_on(actor),
        "own_view": ClientView.objects.filter(client=client, enabled=True).exists(),
        "goal_form": GoalForm(),
        "moment_form": MomentForm(goals=goal_choices),
        "rating_scale": range(11),
    }
    context.update(forms)
    return render(request, "agency/goals.html", context, status=status)


@clinical_view
@require_POST
def goal_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    form = GoalForm(request.POST)
    if not form.is_valid():
        return _render_goals(request, actor, client_id, status=400, goal_form=form)
    try:
        actions.do_add_goal(actor, client_id, text=form.cleaned_data["text"])
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_goals(request, actor, client_id, status=400, goal_form=form)
    return _back(request, _goals_url(client_id), None, "Goal added.")


@clinical_view
@require_POST
def goal_revise(request: HttpRequest, actor: Actor, client_id: int, goal_id: int) -> HttpResponse:
    form = ReviseGoalForm(request.POST)
    if not form.is_valid():
        return _back(request, _goals_url(client_id), ActionError("Write the new wording."), "")
    try:
        actions.do_revise_goal(actor, goal_id, client_id=client_id, **form.cleaned_data)
    except ActionError as exc:
        return _back(request, _goals_url(client_id), exc, "")
    return _back(
        request, _goals_url(client_id), None, "Goal reworded; the earlier wording is kept."
    )


@clinical_view
@require_POST
def goal_retire(request: HttpRequest, actor: Actor, client_id: int, goal_id: int) -> HttpResponse:
    form = RetireGoalForm(request.POST)
    if not form.is_valid():
        return _back(
            request, _goals_url(client_id), ActionError("Say why the goal is retired."), ""
        )
    try:
        actions.do_retire_goal(actor, goal_id, client_id=client_id, **form.cleaned_data)
    except ActionError as exc:
        return _back(request, _goals_url(client_id), exc, "")
    return _back(request, _goals_url(client_id), None, "Goal retired.")


@clinical_view
@require_POST
def goal_rate(request: HttpRequest, actor: Actor, client_id: int, goal_id: int) -> HttpResponse:
    form = RateGoalForm(request.POST)
    if not form.is_valid():
        return _back(request, _goals_url(client_id), ActionError("A rating is 0 to 10."), "")
    try:
        actions.do_rate_goal(
            actor, goal_id, client_id=client_id, rating=form.cleaned_data["rating"]
        )
    except ActionError as exc:
        return _back(request, _goals_url(client_id), exc, "")
    return _back(request, _goals_url(client_id), None, "Rating recorded.")


@clinical_view
@require_POST
def moment_add(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    client = access_client(actor, client_id, action="moment.form")  # its goals for the form
    episode = _episode_of(client)
    goals = (
        list(
            Goal.objects.filter(episode=episode, status=GoalStatus.ACTIVE).values_list("pk", "text")
        )
        if episode
        else []
    )
    form = MomentForm(request.POST, goals=goals)
    if not form.is_valid():
        return _render_goals(request, actor, client_id, status=400, moment_form=form)
    try:
        actions.do_add_moment(
            actor,
            client_id,
            kind=form.cleaned_data["kind"],
            text=form.cleaned_data["text"],
            happened_on=form.cleaned_data["happened_on"],
            goal_id=form.cleaned_data["goal"],
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_goals(request, actor, client_id, status=400, moment_form=form)
    return _back(request, _goals_url(client_id), None, "Added to the timeline.")


@clinical_view
@require_POST
def own_view_set(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    enabled = request.POST.get("enabled") == "on"
    try:
        actions.do_set_client_view(actor, client_id, enabled=enabled)
    except ActionError as exc:
        return _back(request, _goals_url(client_id), exc, "")
    ok = (
        "The client now sees their progress on their link page."
        if enabled
        else ("The client's own view of their progress is turned off.")
    )
    return _back(request, _goals_url(client_id), None, ok)


@clinical_view
@require_POST
def thanks_keep(request: HttpRequest, actor: Actor, thanks_id: int) -> HttpResponse:
    try:
        actions.do_keep_thanks(actor, thanks_id)
    except ActionError as exc:
        return _back(request, reverse("gratitude"), exc, "")
    return _back(request, reverse("gratitude"), None, "Kept in your gratitude collection.")


@clinical_view
@require_http_methods(["GET"])
def gratitude(request: HttpRequest, actor: Actor) -> HttpResponse:
    on = actions.collection_on(actor)
    kept = list(KeptThanks.objects.filter(user=actor.user)) if on else []
    waiting = thanks_to_me(actor) if on else []
    return render(request, "agency/gratitude.html", {"on": on, "kept": kept, "waiting": waiting})


@clinical_view
@require_POST
def gratitude_settings(request: HttpRequest, actor: Actor) -> HttpResponse:
    enabled = request.POST.get("enabled") == "on"
    actions.do_set_collection(actor, enabled=enabled, clear=request.POST.get("clear") == "on")
    ok = "Your gratitude collection is on." if enabled else "Your gratitude collection is off."
    return _back(request, reverse("gratitude"), None, ok)


@clinical_view
@require_POST
def kept_forget(request: HttpRequest, actor: Actor, kept_id: int) -> HttpResponse:
    actions.do_forget_kept(actor, kept_id)
    return _back(request, reverse("gratitude"), None, "Removed from your collection.")


# ---- Endings ---------------------------------------------------------------------------------


@clinical_view
@require_http_methods(["GET"])
def ending_page(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    return _render_ending(request, actor, client_id, episode_id)


def _render_ending(
    request: HttpRequest,
    actor: Actor,
    client_id: int,
    episode_id: int,
    *,
    status: int = 200,
    **forms: Form,
) -> HttpResponse:
    episode = access_episode(actor, episode_id, action="episode.ending", client_id=client_id)
    view = endings.ending_view(episode)
    plan = RelapsePlan.objects.filter(episode=episode).first()
    initial_plan = {f: getattr(plan, f) for f in endings.PLAN_FIELDS} if plan else {}
    context: dict[str, object] = {
        "client": episode.client,
        "episode": episode,
        "view": view,
        "plan": plan,
        "check_ins": list(episode.check_ins.select_related("encounter")),
        "history": [
            (h, Phase(h.from_phase).label, Phase(h.to_phase).label)
            for h in episode.phase_changes.select_related("by__user")
        ],
        "reviews": list(episode.reviews.select_related("by__user")),
        "phases": {p.value: p.label for p in Phase},
        "move_forms": [
            (
                to,
                (FollowUpForm if to == Phase.FOLLOW_UP else PhaseForm)(
                    initial={"to": to, "version": episode.version}, auto_id=f"id_{to}_%s"
                ),
            )
            for to in view.moves
        ],
        "review_form": ReviewForm(
            auto_id="id_review_%s",
            initial={
                "planned": episode.planned_sessions or view.attended or 1,
                "version": episode.version,
            },
        ),
        "plan_form": RelapsePlanForm(
            auto_id="id_plan_%s",
            initial={**initial_plan, "version": plan.version if plan else None},
        ),
        "plan_open": episode.phase in (Phase.ENDING, Phase.FOLLOW_UP),
        "plan_sections": own_page.plan_sections(plan) if plan else [],
    }
    context.update(forms)
    return render(request, "agency/ending.html", context, status=status)


@clinical_view
@require_POST
def episode_phase(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    to = request.POST.get("to", "")
    form: PhaseForm = (
        FollowUpForm(request.POST) if to == Phase.FOLLOW_UP else PhaseForm(request.POST)
    )
    url = _ending_url(client_id, episode_id)
    if not form.is_valid():
        return _back(request, url, ActionError("Check the form: " + _first_error(form)), "")
    data = form.cleaned_data
    try:
        extra: dict[str, Any] = {}
        if to == Phase.FOLLOW_UP:
            extra = {
                "months": endings.parse_months(data["months"]),
                "discharged_on": data["discharged_on"],
                "reason": data["reason"],
            }
        endings.do_move_phase(
            actor,
            episode_id,
            to=to,
            version=data["version"],
            note=data["note"],
            client_id=client_id,
            **extra,
        )
    except ActionError as exc:
        return _back(request, url, exc, "")
    label = Phase(to).label.lower()
    return _back(request, url, None, f"The episode is now in {label}.")


@clinical_view
@require_POST
def episode_review(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    form = ReviewForm(request.POST)
    url = _ending_url(client_id, episode_id)
    if not form.is_valid():
        return _render_ending(request, actor, client_id, episode_id, status=400, review_form=form)
    try:
        endings.do_review_plan(actor, episode_id, client_id=client_id, **form.cleaned_data)
    except ActionError as exc:
        return _back(request, url, exc, "")
    return _back(request, url, None, "Plan reviewed.")


@clinical_view
@require_POST
def relapse_plan_save(
    request: HttpRequest, actor: Actor, client_id: int, episode_id: int
) -> HttpResponse:
    form = RelapsePlanForm(request.POST)
    url = _ending_url(client_id, episode_id)
    if not form.is_valid():
        return _render_ending(request, actor, client_id, episode_id, status=400, plan_form=form)
    data = dict(form.cleaned_data)
    version = data.pop("version")
    try:
        endings.do_save_relapse_plan(
            actor, episode_id, fields=data, version=version, client_id=client_id
        )
    except ActionError as exc:
        form.add_error(None, str(exc))
        return _render_ending(request, actor, client_id, episode_id, status=400, plan_form=form)
    return _back(
        request, url, None, "Relapse-prevention plan saved; the client sees it on their link page."
    )


def _first_error(form: Form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return ""
