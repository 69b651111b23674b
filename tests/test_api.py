"""The REST API: CSRF on changes, clear 4xx JSON for bad input, and a committed schema."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from alliance.api import schema
from alliance.clients.models import Encounter
from conftest import signed_in

pytestmark = pytest.mark.django_db
COMMITTED_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def test_the_committed_openapi_schema_matches_the_api():
    committed = json.loads(COMMITTED_SCHEMA.read_text(encoding="utf-8"))
    generated = json.loads(json.dumps(schema()))
    assert generated == committed, (
        "docs/openapi.json is stale: run `.venv/bin/alliance openapi > docs/openapi.json`"
    )


def test_the_schema_is_served():
    response = HttpClient().get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/clients" in response.json()["paths"]


def _csrf_client(world) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(world.clinician.user)
    session = http.session
    session["signed_in_at"] = session["seen_at"] = timezone.now().timestamp()
    session.save()
    return http


def test_a_change_without_a_csrf_token_is_refused_and_changes_nothing(world):
    http = _csrf_client(world)
    url = f"/api/encounters/{world.own_encounter.pk}/attendance"
    response = http.post(
        url, {"attendance": "attended", "version": 1}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Encounter.objects.get(pk=world.own_encounter.pk).attendance == "scheduled"


def test_a_change_with_the_csrf_token_goes_through(world):
    http = _csrf_client(world)
    http.get("/")  # sets the CSRF cookie
    token = http.cookies["csrftoken"].value
    url = f"/api/encounters/{world.own_encounter.pk}/attendance"
    response = http.post(
        url,
        {"attendance": "attended", "version": 1},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.content
    assert response.json()["attendance"] == "attended"


@pytest.mark.parametrize(
    "body",
    [
        {"attendance": "maybe", "version": 1},
        {"attendance": "attended"},
        {"attendance": "attended", "version": "one"},
        "not json at all",
    ],
)
def test_bad_input_gets_a_4xx_with_a_message_and_changes_nothing(world, body):
    http = signed_in(world.clinician)
    url = f"/api/encounters/{world.own_encounter.pk}/attendance"
    payload = body if isinstance(body, str) else json.dumps(body)
    response = http.post(url, payload, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert Encounter.objects.get(pk=world.own_encounter.pk).attendance == "scheduled"


def test_a_stale_version_is_refused_with_a_message(world):
    http = signed_in(world.clinician)
    url = f"/api/encounters/{world.own_encounter.pk}/attendance"
    assert (
        http.post(
            url, {"attendance": "attended", "version": 1}, content_type="application/json"
        ).status_code
        == 200
    )
    response = http.post(url, {"attendance": "dna", "version": 1}, content_type="application/json")
    assert response.status_code == 400
    assert "changed this record" in response.json()["detail"]


def test_booking_a_session_with_a_naive_time_is_refused(world):
    http = signed_in(world.clinician)
    url = f"/api/episodes/{world.own_episode.pk}/encounters"
    naive = (timezone.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    response = http.post(
        url, {"starts_at": naive, "kind": "therapy"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "time zone" in response.json()["detail"]


@pytest.mark.parametrize("query", ["limit=0", "limit=5000", "offset=-1", "limit=abc"])
def test_paging_out_of_range_is_a_clear_4xx(world, query):
    response = signed_in(world.clinician).get(f"/api/clients?{query}")
    assert response.status_code == 422
    assert response.json()["detail"]
