"""The outcome report over the API: the same checks, audit entry and suppression as the page."""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from alliance.clients.access import MAX_ID
from alliance.clients.errors import ActionError
from alliance.clients.schemas import REFUSED, ErrorOut
from alliance.reports.access import ReportRefused
from alliance.reports.forms import period_problem
from alliance.reports.query import COUNTS, Query
from alliance.reports.report import MEANS, RATES, Report, Row
from alliance.reports.service import outcome_report
from alliance.web.api_util import actor_of

router = Router(tags=["outcome reports"])


class FigureOut(Schema):
    value: float | None = Field(description="null when suppressed or when no one is counted")
    suppressed: bool


class ReportRowOut(Schema):
    group: str
    counts: dict[str, FigureOut]
    rates_percent: dict[str, FigureOut]
    means: dict[str, FigureOut]


class ReportOut(Schema):
    start: date
    end: date
    group_by: str
    measure: str
    suppressed_counts: int
    message: str
    rows: list[ReportRowOut]
    total: ReportRowOut


def _row(row: Row) -> ReportRowOut:
    def figures(cells: dict[str, object]) -> dict[str, FigureOut]:
        return {
            key: FigureOut(value=cell.value, suppressed=cell.hidden)  # type: ignore[attr-defined]
            for key, cell in cells.items()
        }

    return ReportRowOut(
        group=row.label,
        counts=figures(dict(row.counts)),
        rates_percent=figures(dict(row.rates)),
        means=figures(dict(row.means)),
    )


def _out(report: Report) -> ReportOut:
    q = report.query
    message = "" if report.episodes_seen else "No episode was opened or ended in this period."
    return ReportOut(
        start=q.start,
        end=q.end,
        group_by=q.group_by,
        measure=q.measure,
        suppressed_counts=report.hidden,
        message=message,
        rows=[_row(r) for r in report.rows],
        total=_row(report.total),
    )


@router.get(
    "/reports/outcomes",
    response={200: ReportOut, 403: ErrorOut, **REFUSED},
    summary="De-identified outcome report (NHS Talking Therapies definitions)",
    description=(
        f"Counts: {', '.join(COUNTS)}. Rates (percent): "
        f"{', '.join(k for k, _, _, _ in RATES)}. Means: {', '.join(k for k, _, _, _ in MEANS)}. "
        "Any count of 1 to 10 people is suppressed (value null, suppressed true), with every "
        "figure from which one could be derived. Open to the roles the clinic allows."
    ),
)
def outcomes(
    request: HttpRequest,
    start: date,
    end: date,
    group_by: Literal["organisation", "team", "clinician", "discipline", "severity"] = "team",
    measure: Literal["paired", "phq9", "gad7"] = "paired",
    team: int | None = None,
    discipline: str = "",
) -> ReportOut | Status[ErrorOut]:
    if team is not None and not 1 <= team <= MAX_ID:
        raise ActionError("That team is not one you can report on. Choose one of your teams.")
    if len(discipline) > 40:
        raise ActionError("Choose one of the clinic's disciplines.")
    problem = period_problem(start, end)
    if problem is not None:
        raise ActionError(problem[1])
    query = Query(start, end, group_by, measure, team, discipline)
    try:
        report = outcome_report(actor_of(request), query)
    except ReportRefused as exc:
        return Status(403, ErrorOut(detail=str(exc)))
    return _out(report)
