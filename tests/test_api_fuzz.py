"""API fuzzing: schemathesis sends every operation of the committed schema generated requests.

The operations are read from `docs/openapi.json`, so one added to the API is fuzzed the day its
schema is committed. Requests, valid and invalid (schemathesis's positive and negative modes,
and its coverage cases: boundaries, missing and extra parameters, other methods), go to the
in-process WSGI application, as a demo clinician with a real API token and anonymously. Every
response must be free of server errors and tracebacks and conform to the schema: a documented
status code, content type, headers and body. Without credentials every operation answers a JSON
401. Ids in paths and bodies are drawn half the time from the demo clinic's rows (the
clinician's clients, another team's, another clinic's), and versions from the small numbers
rows carry, so requests reach real objects and change them, not only 404s.

`make test` sends ALLIANCE_FUZZ_CASES=200 generated requests per operation as the clinician
(and a quarter as many anonymously, where every one stops at authentication), derandomized: each
run sends the same requests. `make fuzz` sends many more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alliance.accounts.actor import actor_for
from alliance.accounts.models import Membership, Organisation
from alliance.accounts.tokens import do_create_token
from alliance.care.access import disciplines
from alliance.demo.generate import DEMO_SLUG, load_demo
from alliance.wsgi import application

COMMITTED_SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
CASES = int(os.environ.get("ALLIANCE_FUZZ_CASES", "200"))
ANONYMOUS_CASES = max(CASES // 4, 50)
DEMO_CLINICIAN = "alex"
DEMO_REPORTER = "casey"  # a coordinator: the clinic's default report_roles let them run it
REPORT_OPERATION = "alliance_reports_api_outcomes"

schema = schemathesis.openapi.from_path(COMMITTED_SCHEMA)
schema.app = application
# Anonymously every request stops at authentication: the coverage phase's boundary values
# would all meet the same 401, so random requests alone are sent.
anonymous_schema = schemathesis.openapi.from_path(COMMITTED_SCHEMA)
anonymous_schema.app = application
anonymous_schema.config.phases.update(phases=["examples", "fuzzing"])

# The demo clinic's ids by model name ("client", "episode", …), taken by `demo_clinic` for each
# test and read by the hooks below while Hypothesis draws that test's cases.
REAL_IDS: dict[str, list[int]] = {}
# Query parameters that name one of the clinic's choices ("discipline": its codes), and the two
# that bound a period.
REAL_CHOICES: dict[str, list[str]] = {}
PERIOD = ("start", "end")


def _real_ids(field: str) -> list[int]:
    """Ids of the rows a field names by convention: `client_id` holds a Client's id."""
    if not field.endswith("_id"):
        return []
    return REAL_IDS.get(field.removesuffix("_id").replace("_", ""), [])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, an id in the path is the id of a real row."""
    if not path_parameters:
        return st.just(path_parameters)
    drawn = {}
    for name, value in path_parameters.items():
        real = _real_ids(name)
        drawn[name] = st.one_of(st.just(value), st.sampled_from(real)) if real else st.just(value)
    return st.fixed_dictionaries(drawn)


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    """Half the time, a filter is a real row's id (`team` holds a Team's) or one of the clinic's
    disciplines, and half the time a period is a recent one (its end not before its start), so
    that reports are run on real data, not only refused."""
    if not query:
        return st.just(query)
    drawn = {}
    for name, value in query.items():
        real = (_real_ids(name) or REAL_IDS.get(name, [])) if _is_int(value) else []
        if real:
            drawn[name] = st.one_of(st.just(value), st.sampled_from(real))
        elif name in REAL_CHOICES and isinstance(value, str):
            drawn[name] = st.one_of(st.just(value), st.sampled_from(REAL_CHOICES[name]))
        else:
            drawn[name] = st.just(value)
    if not all(isinstance(query.get(name), str) for name in PERIOD):
        return st.fixed_dictionaries(drawn)
    today = date.today()
    recent = st.dates(today - timedelta(days=3 * 366), today)
    period = st.lists(recent, min_size=2, max_size=2).map(sorted)  # a start, then its end
    as_drawn = st.fixed_dictionaries(drawn)
    in_period = st.tuples(as_drawn, period).map(
        lambda drew: (
            drew[0] | {name: day.isoformat() for name, day in zip(PERIOD, drew[1], strict=True)}
        )
    )
    return st.one_of(as_drawn, in_period)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Half the time, an id in a JSON body is a real row's, and a version one rows carry."""
    if not isinstance(body, dict):
        return st.just(body)
    drawn = {}
    for name, value in body.items():
        real = _real_ids(name) if _is_int(value) else []
        if real:
            drawn[name] = st.one_of(st.just(value), st.sampled_from(real))
        elif name == "version" and _is_int(value):
            drawn[name] = st.one_of(st.just(value), st.integers(1, 3))
        else:
            drawn[name] = st.just(value)
    return st.fixed_dictionaries(drawn)


# --- what every response must satisfy --------------------------------------------------------

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "django/core/handlers")


def no_traceback(ctx: Any, response: Any, case: Any) -> None:
    text = response.text or ""
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"the body carries a traceback ({marker!r})"


# What RejectNulMiddleware answers before any view, and so any authentication, can run.
REFUSED_AT_THE_DOOR = {
    400: {"detail": "The request contains a NUL character, never valid input."},
    413: {"detail": "The request is too large."},
}


def anonymous_is_refused(ctx: Any, response: Any, case: Any) -> None:
    """Without credentials an operation that names a security scheme answers a JSON 401, unless
    the request was refused at the door, before anything looked at who sent it."""
    if not case.operation.definition.raw.get("security"):
        return  # a public operation
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"anonymous got {content_type!r}"
    body = response.json()
    if REFUSED_AT_THE_DOOR.get(response.status_code) == body:
        return
    assert response.status_code == 401, f"anonymous got {response.status_code}, not 401"
    assert body == {"detail": "Unauthorized"}


CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    no_traceback,
]

SCHEMES = schema.raw_schema.get("components", {}).get("securitySchemes", {})
CREDENTIAL_HEADERS = {"authorization"} | {
    scheme["name"].lower() for scheme in SCHEMES.values() if scheme.get("in") == "header"
}
CREDENTIAL_COOKIES = {scheme["name"] for scheme in SCHEMES.values() if scheme.get("in") == "cookie"}


def _drop_generated_credentials(case: Any) -> None:
    """Schemathesis fills the schema's security schemes with values of its own (an empty bearer
    token, an empty session cookie); each test brings its identity's credentials instead."""
    for name in list(case.headers or {}):
        if name.lower() in CREDENTIAL_HEADERS:
            del case.headers[name]
    for name in CREDENTIAL_COOKIES:
        (case.cookies or {}).pop(name, None)


# --- the clinic and the app ------------------------------------------------------------------


@pytest.fixture
def in_process_app() -> Iterator[None]:
    """Requests run in the test's transaction, as with Django's test client: the WSGI handler
    must not close the test's database connection when a request starts or finishes."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _demo_token(username: str) -> str:
    """An API token of a demo staff member, made as the tokens page makes it."""
    membership = Membership.objects.get(user__username=username, organisation__slug=DEMO_SLUG)
    actor = actor_for(membership.user, membership.pk)
    assert actor is not None
    _, token = do_create_token(actor, "schemathesis")
    return token


@pytest.fixture
def demo_clinic(db: None, in_process_app: None) -> Iterator[str]:
    """A small demo clinic; gives a demo clinician's API token."""
    load_demo(seed=2026, clients=6)
    token = _demo_token(DEMO_CLINICIAN)
    for model in apps.get_models():
        ids = model._default_manager.order_by("pk").values_list("pk", flat=True)
        REAL_IDS[str(model._meta.model_name)] = [pk for pk in ids if _is_int(pk)]
    clinic = Organisation.objects.get(slug=DEMO_SLUG)
    REAL_CHOICES["discipline"] = [code for code, _ in disciplines(clinic.pk)]
    yield token
    REAL_IDS.clear()
    REAL_CHOICES.clear()


@pytest.fixture
def demo_reporter(demo_clinic: str) -> str:
    """The API token of a demo coordinator: a role the clinic lets run the outcome report."""
    return _demo_token(DEMO_REPORTER)


FUZZING = settings(
    derandomize=True,  # the same requests on every run
    database=None,
    deadline=None,
    # The cases of one test share its clinic and its transaction, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the tests -------------------------------------------------------------------------------


@schema.parametrize()
@settings(FUZZING, max_examples=CASES)
def test_every_operation_holds_to_its_schema_for_a_clinician(case: Any, demo_clinic: str) -> None:
    _drop_generated_credentials(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {demo_clinic}"}, checks=CHECKS)


# As the clinician every valid report request is refused by role (403): as a coordinator, the
# report itself is run, and its figures and suppression checked against the schema.
report_schema = schema.include(operation_id=REPORT_OPERATION)


@report_schema.parametrize()
@settings(FUZZING, max_examples=CASES)
def test_the_outcome_report_holds_to_its_schema_for_a_role_that_runs_it(
    case: Any, demo_reporter: str
) -> None:
    _drop_generated_credentials(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {demo_reporter}"}, checks=CHECKS)


def test_the_report_strategy_reaches_real_reports(demo_reporter: str) -> None:
    """What the hooks draw for the report (a recent period, a real team, a discipline of the
    clinic) runs a report over the demo clinic's episodes, with rows, as a coordinator."""
    from django.test import Client as HttpClient

    http = HttpClient(headers={"Authorization": f"Bearer {demo_reporter}"})
    today = date.today()
    period = {"start": (today - timedelta(days=3 * 366)).isoformat(), "end": today.isoformat()}
    response = http.get("/api/reports/outcomes", period)
    assert response.status_code == 200, response.content
    assert response.json()["rows"]
    assert response.json()["message"] == ""  # the period has episodes
    for team in REAL_IDS["team"]:
        status = http.get("/api/reports/outcomes", period | {"team": team}).status_code
        assert status in {200, 400}  # the coordinator's teams, or another clinic's (refused)
    for code in REAL_CHOICES["discipline"]:
        assert http.get("/api/reports/outcomes", period | {"discipline": code}).status_code == 200


@anonymous_schema.parametrize()
@settings(FUZZING, max_examples=ANONYMOUS_CASES)
def test_every_operation_refuses_anonymous_requests(
    case: Any, db: None, in_process_app: None
) -> None:
    _drop_generated_credentials(case)
    case.call_and_validate(checks=[*CHECKS, anonymous_is_refused])
