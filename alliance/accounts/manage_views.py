"""The clinic admin's pages: users, roles and teams. No clinical content is shown here."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from alliance.accounts import actions
from alliance.accounts.actor import Actor
from alliance.accounts.forms import ClinicSettingsForm, MembershipForm, TeamForm, UserCreateForm
from alliance.accounts.models import Membership, Team, clinic_settings
from alliance.web.decorators import admin_view


@admin_view
@require_http_methods(["GET"])
def users(request: HttpRequest, actor: Actor) -> HttpResponse:
    memberships = (
        Membership.objects.filter(organisation_id=actor.organisation_id)
        .select_related("user")
        .prefetch_related("teams")
        .order_by("-is_active", "user__last_name", "user__username")
    )
    return render(request, "accounts/manage_users.html", {"memberships": memberships})


@admin_view
@require_http_methods(["GET", "POST"])
def user_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_create_user(actor, **form.cleaned_data)
        except actions.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{form.cleaned_data['full_name']} can now sign in.")
            return HttpResponseRedirect(reverse("manage_users"))
    return render(request, "accounts/manage_user_new.html", {"form": form})


@admin_view
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, actor: Actor, membership_id: int) -> HttpResponse:
    membership = (
        Membership.objects.filter(pk=membership_id, organisation_id=actor.organisation_id)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("Not found")
    initial = {
        "role": membership.role,
        "discipline": membership.discipline,
        "is_active": membership.is_active,
        "teams": list(membership.teams.all()),
    }
    form = MembershipForm(
        request.POST or None, initial=initial, organisation_id=actor.organisation_id
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # role and teams change together or not at all
                actions.do_change_role(
                    actor,
                    membership.pk,
                    role=data["role"],
                    discipline=data["discipline"],
                    is_active=data["is_active"],
                )
                actions.do_set_teams(actor, membership.pk, [team.pk for team in data["teams"]])
        except actions.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Saved.")
            return HttpResponseRedirect(reverse("manage_users"))
    return render(
        request, "accounts/manage_user_edit.html", {"form": form, "membership": membership}
    )


@admin_view
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_create_team(actor, form.cleaned_data["name"])
        except actions.AccountError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, "Team created.")
            return HttpResponseRedirect(reverse("manage_teams"))
    team_list = Team.objects.filter(organisation_id=actor.organisation_id).prefetch_related(
        "members__user"
    )
    return render(request, "accounts/manage_teams.html", {"form": form, "teams": team_list})


@admin_view
@require_http_methods(["GET", "POST"])
def clinic_settings_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    current = clinic_settings(actor.organisation_id)
    initial = {name: getattr(current, name) for name in actions.SETTINGS_FIELDS}
    initial["version"] = current.version
    form = ClinicSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_update_clinic_settings(actor, **form.cleaned_data)
        except actions.AccountError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Clinic settings saved.")
            return HttpResponseRedirect(reverse("manage_settings"))
    return render(request, "accounts/manage_settings.html", {"form": form})
