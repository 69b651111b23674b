from __future__ import annotations

from django.urls import include, path

from alliance.accounts import manage_views
from alliance.accounts import token_views as account_token_views
from alliance.accounts import views as account_views
from alliance.alerts import views as alert_views
from alliance.api import api
from alliance.clients import views as client_views
from alliance.measures import client_views as measure_client_views
from alliance.measures import views as measure_views
from alliance.web import views as web_views

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", web_views.healthz, name="healthz"),
    path("login/", account_views.login_view, name="login"),
    path("login/code/", account_views.login_code_view, name="login_code"),
    path("logout/", account_views.logout_view, name="logout"),
    path("account/two-factor/", account_views.two_factor_view, name="two_factor"),
    path("clients/new/", client_views.client_new, name="client_new"),
    path("clients/<int:client_id>/", client_views.client_page, name="client"),
    path("clients/<int:client_id>/care-team/", client_views.care_team_add, name="care_team_add"),
    path(
        "clients/<int:client_id>/care-team/<int:member_id>/end/",
        client_views.care_team_end,
        name="care_team_end",
    ),
    path("clients/<int:client_id>/episodes/", client_views.episode_open, name="episode_open"),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/close/",
        client_views.episode_close,
        name="episode_close",
    ),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/encounters/",
        client_views.encounter_new,
        name="encounter_new",
    ),
    path(
        "clients/<int:client_id>/encounters/<int:encounter_id>/attendance/",
        client_views.encounter_attendance,
        name="encounter_attendance",
    ),
    path("manage/users/", manage_views.users, name="manage_users"),
    path("manage/users/new/", manage_views.user_new, name="manage_user_new"),
    path("manage/users/<int:membership_id>/", manage_views.user_edit, name="manage_user_edit"),
    path("manage/teams/", manage_views.teams, name="manage_teams"),
    path("manage/settings/", manage_views.clinic_settings_page, name="manage_settings"),
    path("m/<str:token>/", measure_client_views.measure_link, name="measure_link"),
    path(
        "clients/<int:client_id>/encounters/<int:encounter_id>/measures/",
        measure_views.session_measures,
        name="session_measures",
    ),
    path(
        "clients/<int:client_id>/encounters/<int:encounter_id>/links/",
        measure_views.link_create,
        name="link_create",
    ),
    path("measures/pending/", measure_views.pending, name="pending_links"),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/plan/",
        measure_views.plan_edit,
        name="plan_edit",
    ),
    path("alerts/<int:alert_id>/", alert_views.alert_page, name="alert"),
    path(
        "alerts/<int:alert_id>/acknowledge/",
        alert_views.alert_acknowledge,
        name="alert_acknowledge",
    ),
    path("alerts/<int:alert_id>/resolve/", alert_views.alert_resolve, name="alert_resolve"),
    path("", include("alliance.charts.urls")),
    path("", include("alliance.journal.urls")),
    path("", include("alliance.agency.urls")),
    path("", include("alliance.care.urls")),
    path("", include("alliance.reports.urls")),
    path("api/", api.urls),
    path("account/api-tokens/", account_token_views.api_tokens, name="api_tokens"),
]
