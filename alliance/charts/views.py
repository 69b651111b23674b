"""The client chart page and its PDF. Thin: read through access_client, gather, render.

The charts reach the page as ``<img src="data:image/svg+xml;base64,...">`` rather than inline
markup. An SVG shown as an image cannot run script or load anything, so even a flaw in our
escaping could not turn client data into live markup, and no mark_safe is needed. What an
inline SVG would give screen readers (its title and description) is given instead by the
image's alt text, the heading above it and the table below.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from alliance.accounts.actor import Actor
from alliance.charts.data import ChartData, chart_data
from alliance.charts.export import chart_pdf
from alliance.charts.layout import layout
from alliance.charts.svg import scene_svg
from alliance.clients.access import access_client
from alliance.web.decorators import clinical_view


@dataclass(frozen=True)
class Figure:
    name: str
    alt: str
    src: str
    width: int
    height: int


def _episode_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("episode", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def _figure(name: str, svg: str, alt: str, width: float, height: float) -> Figure:
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return Figure(name, alt, f"data:image/svg+xml;base64,{encoded}", int(width), int(height))


def figures_of(found: ChartData) -> list[Figure]:
    """Each chart of the data as an image the page can show."""
    figures = []
    for spec in found.specs:
        scene = layout(spec)
        figures.append(_figure(spec.name, scene_svg(scene), scene.desc, scene.width, scene.height))
    return figures


@clinical_view
@require_http_methods(["GET"])
def client_chart(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    client = access_client(actor, client_id, action="chart.view")
    found = chart_data(actor, client, _episode_id(request))
    context = {"client": client, "found": found, "figures": figures_of(found)}
    return render(request, "charts/chart.html", context)


@clinical_view
@require_http_methods(["GET"])
def client_chart_pdf(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    # Its own audit action: a PDF leaves the system, and the trail should say so.
    client = access_client(actor, client_id, action="chart.export")
    found = chart_data(actor, client, _episode_id(request))
    response = HttpResponse(chart_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="chart.pdf"'
    return response
