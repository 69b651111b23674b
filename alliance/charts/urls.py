"""The client chart's pages: the chart with its table, and the same as a PDF."""

from __future__ import annotations

from django.urls import URLPattern, path

from alliance.charts import views

urlpatterns: list[URLPattern] = [
    path("clients/<int:client_id>/chart/", views.client_chart, name="client_chart"),
    # No client name in the URL or the file name: both end up in histories and download folders.
    path("clients/<int:client_id>/chart.pdf", views.client_chart_pdf, name="client_chart_pdf"),
]
