"""The journal and wellbeing pages. No API endpoint: the journal is for its author's eyes."""

from __future__ import annotations

from django.urls import URLPattern, path

from alliance.journal import views

urlpatterns: list[URLPattern] = [
    path("journal/", views.journal, name="journal"),
    path("journal/new/", views.journal_new, name="journal_new"),
    path("journal/<int:entry_id>/", views.journal_entry, name="journal_entry"),
    path("journal/<int:entry_id>/delete/", views.journal_entry_delete, name="journal_entry_delete"),
    path("journal/export.md", views.journal_export, name="journal_export"),
    path("journal/delete/", views.journal_delete_all, name="journal_delete_all"),
    path("wellbeing/", views.wellbeing_page, name="wellbeing"),
    path("wellbeing/rhythm/", views.wellbeing_rhythm, name="wellbeing_rhythm"),
]
