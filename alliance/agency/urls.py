from __future__ import annotations

from django.urls import path

from alliance.agency import client_views, views

urlpatterns = [
    path("clients/<int:client_id>/goals/", views.goals_page, name="client_goals"),
    path("clients/<int:client_id>/goals/new/", views.goal_add, name="goal_add"),
    path(
        "clients/<int:client_id>/goals/<int:goal_id>/revise/",
        views.goal_revise,
        name="goal_revise",
    ),
    path(
        "clients/<int:client_id>/goals/<int:goal_id>/retire/",
        views.goal_retire,
        name="goal_retire",
    ),
    path("clients/<int:client_id>/goals/<int:goal_id>/rate/", views.goal_rate, name="goal_rate"),
    path("clients/<int:client_id>/moments/", views.moment_add, name="moment_add"),
    path("clients/<int:client_id>/own-view/", views.own_view_set, name="own_view_set"),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/ending/",
        views.ending_page,
        name="episode_ending",
    ),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/phase/",
        views.episode_phase,
        name="episode_phase",
    ),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/review/",
        views.episode_review,
        name="episode_review",
    ),
    path(
        "clients/<int:client_id>/episodes/<int:episode_id>/relapse-plan/",
        views.relapse_plan_save,
        name="relapse_plan_save",
    ),
    path("thanks/", views.gratitude, name="gratitude"),
    path("thanks/settings/", views.gratitude_settings, name="gratitude_settings"),
    path("thanks/<int:thanks_id>/keep/", views.thanks_keep, name="thanks_keep"),
    path("thanks/kept/<int:kept_id>/forget/", views.kept_forget, name="kept_forget"),
    path("m/<str:token>/mine/", client_views.client_own, name="client_own"),
    path("m/<str:token>/plan.pdf", client_views.client_plan_pdf, name="client_plan_pdf"),
]
