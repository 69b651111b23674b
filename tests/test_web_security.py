"""Headers every page carries, and error pages that say something useful and nothing more."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from conftest import signed_in
from tests.routes import site_routes

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[1] / "alliance"


def test_every_page_forbids_other_origins_framing_and_caching(world):
    response = signed_in(world.clinician).get(reverse("client", args=[world.own_client.pk]))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no other origin is named anywhere
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-ID"]


def test_no_template_loads_anything_from_another_origin():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"""(src|href)=["']?(https?:)?//""", text):
            offenders.append(str(path))
    assert offenders == []


def test_htmx_is_vendored_with_its_licence():
    vendor = TEMPLATES / "web" / "static" / "vendor" / "htmx"
    assert (vendor / "htmx.min.js").stat().st_size > 10_000
    assert "Zero-Clause BSD" in (vendor / "LICENSE").read_text(encoding="utf-8")


def test_a_missing_page_says_not_found_without_a_traceback(world):
    response = signed_in(world.clinician).get("/clients/99999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body
    assert "Traceback" not in body


def test_a_post_without_a_csrf_token_is_refused(world):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(world.clinician.user)
    url = reverse("episode_open", args=[world.own_client.pk])
    assert http.post(url, {"opened_on": "2026-01-01"}).status_code == 403


def test_link_tokens_never_reach_the_access_log():
    from alliance.web.logs import redact

    line = '127.0.0.1 "POST /m/Abc-_123xyz/ HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1 "POST /m/[token]/ HTTP/1.1" 200'
    assert redact("/clients/3/") == "/clients/3/"


# --- every page and API read, not one: from the resolver and the schema -------------------------

OWN_ORIGIN_SOURCES = {"'self'", "'none'", "data:"}
PAGES = [route for route in site_routes() if "GET" in route.methods]


def _assert_locked_down(response: Any, where: str) -> None:
    directives = [d.split() for d in response["Content-Security-Policy"].split(";") if d.strip()]
    named = {source for _, *sources in directives for source in sources}
    assert named <= OWN_ORIGIN_SOURCES, f"{where}: the CSP names {named - OWN_ORIGIN_SOURCES}"
    assert ["frame-ancestors", "'none'"] in directives, where
    assert response["X-Frame-Options"] == "DENY", where
    assert response["Cache-Control"] == "no-store", where
    assert response["X-Content-Type-Options"] == "nosniff", where


def test_the_page_list_is_computed():
    names = {route.name for route in PAGES}
    assert {"home", "client", "client_chart", "client_chart_pdf", "alert"} <= names


@pytest.mark.parametrize("route", PAGES, ids=lambda r: r.name)
def test_every_page_sends_the_csp_no_store_and_no_framing_to_its_owner(world, route):
    response = signed_in(world.clinician).get(route.url(world))

    _assert_locked_down(response, route.name)


REPORTS = {"/api/reports/outcomes": {"start": "2025-01-01", "end": "2025-12-31"}}


def test_every_api_read_of_client_data_is_not_stored(world):
    from alliance.api import schema

    http = signed_in(world.clinician)
    reads = [path for path, item in schema()["paths"].items() if "get" in item]
    for path in reads:
        url = path.replace("{client_id}", str(world.own_client.pk)).replace(
            "{episode_id}", str(world.own_episode.pk)
        )
        url = url.replace("{alert_id}", str(world.own_alert.pk))
        if path in REPORTS:  # a period, asked by a role the clinic lets run the report
            response = signed_in(world.coordinator).get(url, REPORTS[path])
        else:
            response = http.get(url)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-store", path
    assert len(reads) >= 5
