"""Every state-changing route refuses a request without a valid CSRF token, and changes nothing.

The routes are read from the URL resolver: every pattern whose view accepts POST, PUT, PATCH
or DELETE (a view that names no methods accepts them all), so a new route is covered the day
it is added. Each is sent, from a signed-in session and from an anonymous one, with no token
and with a wrong one: the answer must be Django's CSRF refusal (403) and no table may change.
The same request with the right token must get past the check, which shows the refusal was
the token's doing and not, say, a missing permission.

The API is read from its OpenAPI schema: a session-authenticated change needs the token, a
bearer-token one does not (a browser never adds the Authorization header by itself).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.utils.crypto import get_random_string

from alliance.accounts.tokens import do_create_token
from alliance.api import schema
from alliance.backup.content import Reader, TableDigest, digest_tables
from conftest import World, build_world, signed_in
from tests.routes import UNSAFE, site_routes

pytestmark = pytest.mark.django_db
CSRF_REFUSAL = "CSRF verification failed"
# Routes that may take an unsafe request without a CSRF token, each with its reason. The API's
# views are exempt from Django's middleware because django-ninja checks the token itself for
# session-authenticated requests (ActorSessionAuth); the tests below hold it to that.
EXEMPT: dict[str, str] = {}
# The session row may be touched by the session policy (its idle clock) before CSRF is checked.
NOT_STATE = {"accounts_signinsession"}
STATE_CHANGING = [route for route in site_routes() if route.unsafe]


def _state() -> dict[str, TableDigest]:
    return digest_tables(Reader(connection.cursor(), connection.vendor), skip=NOT_STATE)


def _with_csrf_cookie(http: HttpClient) -> str:
    token = get_random_string(32)
    http.cookies["csrftoken"] = token
    return token


def _send(http: HttpClient, method: str, url: str, data: dict[str, str]) -> Any:
    if method == "POST":
        return http.post(url, data)
    from urllib.parse import urlencode

    send = getattr(http, method.lower())
    return send(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def _is_csrf_refusal(response: Any) -> bool:
    return response.status_code == 403 and CSRF_REFUSAL in response.content.decode()


def test_the_route_list_is_computed_and_covers_every_form_that_changes_something():
    names = {route.name for route in STATE_CHANGING}
    # A sample the list cannot lack; the rest comes from the resolver as routes are added.
    assert {"logout", "login", "episode_open", "alert_resolve", "measure_link"} <= names
    assert "client_chart" not in names  # GET only
    assert len(STATE_CHANGING) >= 25


def test_no_route_is_exempt_from_the_csrf_check_except_those_listed():
    exempt = {r.name for r in STATE_CHANGING if getattr(r.view, "csrf_exempt", False)}
    assert exempt == set(EXEMPT)


CHECKED = [route for route in STATE_CHANGING if route.name not in EXEMPT]


@pytest.mark.parametrize("route", CHECKED, ids=lambda r: r.name)
def test_a_change_without_a_valid_csrf_token_is_refused_and_changes_nothing(route):
    world = build_world()
    url = route.url(world)
    member = world.admin if route.name.startswith("manage_") else world.clinician
    sessions = {"member": signed_in(member), "anonymous": HttpClient()}  # signing in is a write
    control = signed_in(member)
    for http in (*sessions.values(), control):
        http.handler.enforce_csrf_checks = True
    before = _state()
    for method in route.unsafe:
        for who, http in sessions.items():
            http.cookies.pop("csrftoken", None)
            without = _send(http, method, url, {"note": "x"})
            assert _is_csrf_refusal(without), f"{method} {url} as {who} without a token"
            _with_csrf_cookie(http)
            wrong = _send(http, method, url, {"csrfmiddlewaretoken": get_random_string(32)})
            assert _is_csrf_refusal(wrong), f"{method} {url} as {who} with a wrong token"
    assert _state() == before, f"{route.name} changed something without a CSRF token"
    token = _with_csrf_cookie(control)
    right = _send(control, route.unsafe[0], url, {"csrfmiddlewaretoken": token})
    assert not _is_csrf_refusal(right), f"{route.name} refuses even the right token"


# --- the API ----------------------------------------------------------------------------------

API_CHANGES = sorted(
    (method.upper(), path)
    for path, item in schema()["paths"].items()
    for method in item
    if method.upper() in UNSAFE
)


def _api_url(path: str, world: World) -> str:
    url = (
        path.replace("{client_id}", str(world.own_client.pk))
        .replace("{episode_id}", str(world.own_episode.pk))
        .replace("{encounter_id}", str(world.own_encounter.pk))
        .replace("{alert_id}", str(world.own_alert.pk))
    )
    return re.sub(r"{[a-z_]+}", "1", url)  # an id of a kind not listed: 1, a 404 at worst


def _api_send(http: HttpClient, method: str, url: str, **headers: str) -> Any:
    send = getattr(http, method.lower())
    return send(url, "{}", content_type="application/json", headers=headers)


def test_the_api_has_changes_to_check():
    assert len(API_CHANGES) >= 5


@pytest.mark.parametrize(("method", "path"), API_CHANGES)
def test_a_session_authenticated_api_change_needs_the_csrf_token(method, path):
    world = build_world()
    url = _api_url(path, world)
    http = signed_in(world.clinician)
    http.handler.enforce_csrf_checks = True
    before = _state()

    without = _api_send(http, method, url)
    token = _with_csrf_cookie(http)
    wrong = _api_send(http, method, url, **{"X-CSRFToken": get_random_string(32)})

    for response in (without, wrong):
        assert response.status_code == 403, f"{method} {path}"
        assert response.json() == {"detail": "CSRF check Failed"}
    assert _state() == before
    right = _api_send(http, method, url, **{"X-CSRFToken": token})
    assert right.status_code not in {401, 403}, f"{method} {path}: {right.content!r}"


@pytest.mark.parametrize(("method", "path"), API_CHANGES)
def test_a_bearer_token_api_change_needs_no_csrf_token(method, path):
    world = build_world()
    _, api_token = do_create_token(world.actor(world.clinician), "csrf test")
    http = HttpClient(enforce_csrf_checks=True)

    response = _api_send(http, method, _api_url(path, world), Authorization=f"Bearer {api_token}")

    assert response.status_code not in {401, 403}, f"{method} {path}: {response.content!r}"
