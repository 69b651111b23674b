"""The REST API: CSRF on changes, clear 4xx JSON for bad input, and a committed schema."""

from __future__ import annotations

import json
import re
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


# --- found by fuzzing (tests/test_api_fuzz.py) ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body", "where"),
    [
        ("get", "/api/clients?limit=0", None, "query.limit"),
        ("get", "/api/alerts?status=closed", None, "query.status"),
        ("get", "/api/alerts/null", None, "path.alert_id"),
        ("post", "/api/encounters/{encounter}/attendance", {"attendance": "dna"}, "body.version"),
        ("post", "/api/encounters/{encounter}/attendance", {"version": "x"}, "body.attendance"),
    ],
)
def test_a_request_that_does_not_validate_gets_a_422_with_one_message(
    world, method, url, body, where
):
    http = signed_in(world.clinician)
    url = url.replace("{encounter}", str(world.own_encounter.pk))
    if method == "get":
        response = http.get(url)
    else:
        response = http.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    # The schema promises {"detail": <string>}, as for every other refusal (it was a list).
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.startswith(where), detail
    assert response.json() == {"detail": detail}


API_CHANGES = sorted(
    (method, path) for path, item in schema()["paths"].items() for method in item if method != "get"
)


@pytest.mark.parametrize(("method", "path"), API_CHANGES)
def test_an_anonymous_change_is_a_401_not_a_csrf_refusal(method, path):
    program = HttpClient(enforce_csrf_checks=True)  # no session, no token, no CSRF cookie
    url = re.sub(r"{[a-z_]+}", "1", path)
    response = getattr(program, method)(url, "{}", content_type="application/json")
    assert response.status_code == 401, f"{method.upper()} {path}: {response.content!r}"
    assert response.json() == {"detail": "Unauthorized"}


def test_every_operation_documents_the_refusals_it_can_give():
    for path, item in schema()["paths"].items():
        for method, operation in item.items():
            codes = {str(code) for code in operation["responses"]}
            label = f"{method.upper()} {path}"
            # 400: a NUL character, in the query of any request; 401: no valid token or session.
            assert {"400", "401"} <= codes, label
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in codes, f"{label}: a path, query or body that does not validate"
