"""The client's side: a one-time link opens the questions, with no account and no cookies
beyond CSRF. Everything the client sees is kind, short, and says what to do next."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliance.accounts.models import clinic_settings
from alliance.agency import link as agency_link
from alliance.agency import own_page
from alliance.measures import actions
from alliance.measures.forms import AnswersForm, complete_answers
from alliance.measures.models import MeasureLink

# Seconds between the thank-you and the write under the planted fault (see measure_link).
PLANTED_DELAY = 2.0

STATE_STATUS = {
    "unknown": 404,
    "expired": 410,
    "replaced": 410,
    "closed": 410,
    "completed": 200,
}


@never_cache
@require_http_methods(["GET", "POST"])
def measure_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        # Opening the page is audited; sending it is audited by the submission itself.
        if request.method == "GET":
            link, found = actions.open_link(token), None
        else:
            found = actions.peek(token)
            link = found.link
            if actions.state_of(link) != "open":
                raise actions.LinkUnavailable(actions.explain(link, actions.state_of(link)))
    except actions.LinkUnavailable as exc:
        if exc.state == "completed" and request.method == "POST":
            return _thanks(request, None, repeated=True)
        if exc.state == "completed":
            return _unavailable(request, exc.state, token=token, link=exc.link)
        return _unavailable(request, exc.state)
    clinic = found.clinic if found and found.clinic else clinic_settings(link.organisation_id)
    crisis = clinic.crisis_contacts
    # The goal ratings, notes and thank-you beside the questionnaires (alliance.agency).
    scored = [i for i in link.instruments if i != actions.GOAL_PROGRESS]
    extras = agency_link.read(link)
    extra_errors: dict[str, str] = {}
    if request.method == "POST":
        # The common case, every answer given and valid, skips building the form.
        answers = complete_answers(scored, request.POST)
        parsed, extra_errors = agency_link.parse(extras, request.POST)
        if answers is not None and not extra_errors:
            store = partial(
                actions.submit,
                token,
                answers,
                link=link,
                clinic=clinic,
                extras=agency_link.writer(extras, parsed),
                history=found.history if found else None,
            )
            if settings.ALLIANCE_FAULT == "ack-before-commit":
                # PLANTED FAULT, for tests/test_crash_harness.py only (config.planted_fault
                # refuses it in production): thank the client first and store the answers a
                # moment later, so a crash in between loses an acknowledged submission.
                threading.Timer(PLANTED_DELAY, _store_later, [store]).start()
                return _thanks(request, None, repeated=False, crisis=crisis, token=token)
            try:
                submitted = store()
            except actions.LinkUnavailable as exc:
                return _unavailable(request, exc.state)
            own = own_page.available(
                submitted.link, known=(found.relapse_plan, found.progress_shared) if found else None
            )
            return _thanks(
                request, submitted, repeated=submitted.repeated, crisis=crisis, token=token, own=own
            )
    form = AnswersForm(scored, request.POST or None)
    if form.is_bound:
        form.is_valid()  # to show every problem next to its question
    missed = [(name, form.fields[name].label) for name in form.errors if name in form.fields]
    missed += [
        (name, "Your goal: " + goal.text[:40] + ("…" if len(goal.text) > 40 else ""))
        for name, goal in extras.rating_fields
        if name in extra_errors
    ]
    context = {
        "extras": extras,
        "extra_errors": extra_errors,
        "extra_messages": [(k, v) for k, v in extra_errors.items() if not k.startswith("goal-")],
        "posted": request.POST,
        "own": own_page.available(link) if request.method == "GET" else None,
        "token": token,
        "rating_scale": range(11),
        "rating_rows": [
            (name, goal, request.POST.get(name, ""), extra_errors.get(name, ""))
            for name, goal in extras.rating_fields
        ],
        "form": form,
        "organisation": link.organisation,
        "timing": link.timing,
        "crisis": crisis,
        "show_crisis": form.endorsed_risk(),
        "risk_fields": form.risk_fields(),
        # The crisis contacts sit right under the first risk question, where the client is.
        "crisis_after": next(iter(form.risk_fields()), ""),
        "missed": missed,
        "question_count": form.required_count() + len(extras.rating_fields),
    }
    status = 400 if form.errors or extra_errors else 200
    return render(request, "measures/client_form.html", context, status=status)


def _store_later(store: Callable[[], object]) -> None:
    """The deferred write of the planted fault above, on a thread of its own."""
    try:
        store()
    finally:
        connection.close()


def _thanks(
    request: HttpRequest,
    submitted: actions.Submitted | None,
    *,
    repeated: bool,
    crisis: str = "",
    token: str = "",
    own: own_page.Own | None = None,
) -> HttpResponse:
    context = {
        "repeated": repeated,
        "risk": bool(submitted and submitted.risk),
        "crisis": crisis,
        "own": own,
        "token": token,
    }
    # The page holds no form and nothing of the request, so it is rendered without the
    # request's context processors (a third of its cost on the submission path).
    return HttpResponse(render_to_string("measures/client_thanks.html", context))


def _unavailable(
    request: HttpRequest, state: str, token: str = "", link: MeasureLink | None = None
) -> HttpResponse:
    # A used link still opens the client's own plan and progress until it expires.
    own = own_page.available(link) if link is not None else None
    return render(
        request,
        "measures/client_unavailable.html",
        {"state": state, "own": own, "token": token},
        status=STATE_STATUS.get(state, 410),
    )
