from __future__ import annotations

from django.urls import path

from alliance.reports import client_views, views

urlpatterns = [
    path("reports/outcomes/", views.outcome_page, name="outcome_report"),
    path("reports/outcomes.csv", views.outcome_csv, name="outcome_report_csv"),
    path("reports/outcomes.pdf", views.outcome_pdf, name="outcome_report_pdf"),
    path("clients/<int:client_id>/stories/", views.client_stories, name="client_stories"),
    path(
        "clients/<int:client_id>/stories/<int:story_id>/review/",
        views.story_review,
        name="story_review",
    ),
    path(
        "clients/<int:client_id>/stories/<int:story_id>/withdraw/",
        views.story_withdraw,
        name="story_withdraw",
    ),
    path("m/<str:token>/story/", client_views.client_story, name="client_story"),
    path(
        "m/<str:token>/story/<int:story_id>/withdraw/",
        client_views.client_story_withdraw,
        name="client_story_withdraw",
    ),
]
