"""Headers every page carries, and error pages that say something useful and nothing more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from conftest import signed_in

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
