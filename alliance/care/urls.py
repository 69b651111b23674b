from __future__ import annotations

from django.urls import path

from alliance.care import views

urlpatterns = [
    path("clients/<int:client_id>/care/", views.care_plan, name="care_plan"),
    path("clients/<int:client_id>/care/needs/", views.needs_save, name="needs_save"),
    path("clients/<int:client_id>/care/items/", views.care_item_add, name="care_item_add"),
    path(
        "clients/<int:client_id>/care/items/<int:item_id>/",
        views.care_item_edit,
        name="care_item_edit",
    ),
    path("clients/<int:client_id>/care/consent/", views.consent_add, name="consent_add"),
    path(
        "clients/<int:client_id>/care/consent/<int:consent_id>/withdraw/",
        views.consent_withdraw,
        name="consent_withdraw",
    ),
    path("clients/<int:client_id>/care/people/", views.relationship_add, name="relationship_add"),
    path(
        "clients/<int:client_id>/care/people/<int:relationship_id>/end/",
        views.relationship_end,
        name="relationship_end",
    ),
    path("clients/<int:client_id>/care/handoffs/", views.handoff_add, name="handoff_add"),
    path(
        "clients/<int:client_id>/care/handoffs/<int:handoff_id>/",
        views.handoff_page,
        name="handoff",
    ),
    path("clients/<int:client_id>/care/review/", views.review_flag, name="review_flag"),
    path(
        "clients/<int:client_id>/care/review/<int:review_id>/acknowledge/",
        views.review_acknowledge,
        name="review_acknowledge",
    ),
    path("manage/disciplines/", views.disciplines_page, name="manage_disciplines"),
    path("registry/", views.registry_page, name="registry"),
    path("registry.csv", views.registry_csv, name="registry_csv"),
    path("reviews/", views.reviews_page, name="reviews"),
    path("reviews/<int:review_id>/", views.review_page, name="review"),
    path("reviews/<int:review_id>/recommend/", views.review_recommend, name="review_recommend"),
]
