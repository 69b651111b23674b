"""The outcome report page with its CSV and PDF, and the review of consented stories."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from alliance.accounts.actor import Actor
from alliance.accounts.models import Organisation
from alliance.clients.access import access_client
from alliance.clients.errors import ActionError
from alliance.reports import stories
from alliance.reports.access import ReportRefused, reporting_scope
from alliance.reports.forms import ReportForm, default_period
from alliance.reports.pdf import render_pdf
from alliance.reports.query import Scope
from alliance.reports.report import RATES, Report, as_csv, sections
from alliance.reports.service import ReportTooLong, outcome_report
from alliance.web.decorators import clinical_view, member_view

CHARTED = ("recovery_rate", "improvement_rate", "deterioration_rate")


def _run(
    request: HttpRequest, actor: Actor, action: str
) -> tuple[ReportForm, Report | None, Scope]:
    """The form (the last twelve months by team when nothing was asked), its report, and the
    actor's scope. A role that may not run the report is refused, audited as `action`."""
    try:
        allowed = reporting_scope(actor, action)
    except ReportRefused as exc:
        raise PermissionDenied(str(exc)) from None
    if "start" in request.GET:
        data: Any = request.GET
    else:
        start, end = default_period()
        data = {"start": start, "end": end, "group_by": "team", "measure": "paired"}
    form = ReportForm(data, teams=allowed.teams, organisation_id=actor.organisation_id)
    report = None
    if form.is_valid():
        try:
            report = outcome_report(actor, form.query(), action=action, allowed=allowed)
        except ReportTooLong as exc:
            form.add_error(None, str(exc))
        except ActionError as exc:
            form.add_error("team", str(exc))
    return form, report, allowed.scope


@member_view
@require_http_methods(["GET"])
def outcome_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    form, report, scope = _run(request, actor, "report.run")
    context: dict[str, Any] = {"form": form, "report": report}
    if report is not None:
        context["sections"] = sections(report)
        context["bars"] = _bars(report)
        context["stories"] = stories.shared_stories(scope, report.query)
        context["query_string"] = form.query_string()
    return render(request, "reports/outcomes.html", context)


@member_view
@require_http_methods(["GET"])
def outcome_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    form, report, _ = _run(request, actor, "report.export")
    if report is None:
        return render(request, "reports/outcomes.html", {"form": form}, status=400)
    response = HttpResponse(as_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcome-report.csv"'
    return response


@member_view
@require_http_methods(["GET"])
def outcome_pdf(request: HttpRequest, actor: Actor) -> HttpResponse:
    form, report, scope = _run(request, actor, "report.export")
    if report is None:
        return render(request, "reports/outcomes.html", {"form": form}, status=400)
    clinic = Organisation.objects.get(pk=actor.organisation_id).name
    body = render_pdf(
        report,
        clinic=clinic,
        generated=timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        stories=stories.shared_stories(scope, report.query),
    )
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="outcome-report.pdf"'
    return response


def _bars(report: Report) -> list[dict[str, Any]]:
    """Rows of the chart: each group's rates as bars of 0-100 (hidden ones say so)."""
    labels = {key: label for key, label, _, _ in RATES}
    out = []
    for row in [*report.rows, report.total]:
        bars = []
        for key in CHARTED:
            cell = row.rates[key]
            bars.append(
                {
                    "label": labels[key],
                    "key": key,
                    "hidden": cell.hidden,
                    "value": cell.value,
                    "width": 0 if cell.value is None else max(0.5, min(100.0, cell.value)),
                }
            )
        out.append({"label": row.label, "bars": bars})
    return out


# --- consented stories, reviewed by the care team -----------------------------------------------


@clinical_view
@require_http_methods(["GET"])
def client_stories(request: HttpRequest, actor: Actor, client_id: int) -> HttpResponse:
    client = access_client(actor, client_id, action="story.list")
    rows = stories.client_stories(client)
    return render(request, "reports/client_stories.html", {"client": client, "rows": rows})


@clinical_view
@require_POST
def story_review(request: HttpRequest, actor: Actor, client_id: int, story_id: int) -> HttpResponse:
    decision = request.POST.get("decision", "")
    try:
        stories.do_review(
            actor,
            client_id,
            story_id,
            decision=decision,
            text=request.POST.get("shared_text", ""),
            checked=request.POST.get("deidentified") == "on",
            version=_version(request),
        )
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Story shared in the outcome report." if decision == "share" else "Saved."
        )
    return HttpResponseRedirect(reverse("client_stories", args=[client_id]))


@clinical_view
@require_POST
def story_withdraw(
    request: HttpRequest, actor: Actor, client_id: int, story_id: int
) -> HttpResponse:
    try:
        stories.do_withdraw_for_client(actor, client_id, story_id)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Story withdrawn: its words are removed.")
    return HttpResponseRedirect(reverse("client_stories", args=[client_id]))


def _version(request: HttpRequest) -> int:
    text = request.POST.get("version", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 9 else 0
