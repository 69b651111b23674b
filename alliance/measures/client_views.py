"""The client's side: a one-time link opens the questions, with no account and no cookies
beyond CSRF. Everything the client sees is kind, short, and says what to do next."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from alliance.measures import actions
from alliance.measures.forms import AnswersForm, complete_answers

STATE_STATUS = {"unknown": 404, "expired": 410, "replaced": 410, "completed": 200}


@never_cache
@require_http_methods(["GET", "POST"])
def measure_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        # Opening the page is audited; sending it is audited by the submission itself.
        link = actions.open_link(token) if request.method == "GET" else actions.peek(token)
        if request.method == "POST" and actions.state_of(link) != "open":
            raise actions.LinkUnavailable(actions.state_of(link))
    except actions.LinkUnavailable as exc:
        if exc.state == "completed" and request.method == "POST":
            return _thanks(request, None, repeated=True)
        return _unavailable(request, exc.state)
    clinic = actions.settings_of(link)
    crisis = clinic.crisis_contacts
    if request.method == "POST":
        # The common case, every answer given and valid, skips building the form.
        answers = complete_answers(link.instruments, request.POST)
        if answers is not None:
            try:
                submitted = actions.submit(token, answers, link=link, clinic=clinic)
            except actions.LinkUnavailable as exc:
                return _unavailable(request, exc.state)
            return _thanks(request, submitted, repeated=submitted.repeated, crisis=crisis)
    form = AnswersForm(list(link.instruments), request.POST or None)
    if form.is_bound:
        form.is_valid()  # to show every problem next to its question
    context = {
        "form": form,
        "organisation": link.organisation,
        "timing": link.timing,
        "crisis": crisis,
        "show_crisis": form.endorsed_risk(),
        "risk_fields": form.risk_fields(),
        # The crisis contacts sit right under the first risk question, where the client is.
        "crisis_after": next(iter(form.risk_fields()), ""),
        "missed": [(name, form.fields[name].label) for name in form.errors if name in form.fields],
        "question_count": form.required_count(),
    }
    status = 400 if form.errors else 200
    return render(request, "measures/client_form.html", context, status=status)


def _thanks(
    request: HttpRequest,
    submitted: actions.Submitted | None,
    *,
    repeated: bool,
    crisis: str = "",
) -> HttpResponse:
    context = {
        "repeated": repeated,
        "risk": bool(submitted and submitted.risk),
        "crisis": crisis,
    }
    return render(request, "measures/client_thanks.html", context)


def _unavailable(request: HttpRequest, state: str) -> HttpResponse:
    return render(
        request,
        "measures/client_unavailable.html",
        {"state": state},
        status=STATE_STATUS.get(state, 410),
    )
