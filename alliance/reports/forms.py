"""The report's choices: a period, a grouping, a measure and optional filters (all in the URL,
which carries no client data)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from alliance.accounts.models import Team
from alliance.care.access import disciplines
from alliance.reports.query import GROUPS, MEASURES, Query

LONGEST = timedelta(days=366 * 10)


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last twelve months, ending today."""
    today = today or timezone.localdate()
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February: a year before is the 28th
        year_ago = today.replace(year=today.year - 1, day=28)
    return year_ago + timedelta(days=1), today


def period_problem(start: date, end: date) -> tuple[str, str] | None:
    """What is wrong with a report period, as (the field to blame, the words), or None; the
    page's form and the API give the same answers."""
    if end < start:
        return "end", "The period ends before it starts."
    if end - start > LONGEST:
        return "end", "Choose a period of ten years or less."
    if start > timezone.localdate():
        return "start", "The period starts in the future; there is nothing yet."
    return None


class TeamField(forms.TypedChoiceField):
    """Offers the actor's teams, but takes any team id: access_report refuses one outside them,
    and audits the refusal, which a form error alone would not."""

    def valid_value(self, value: Any) -> bool:
        return True


class ReportForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(label="Group by", choices=list(GROUPS.items()), initial="team")
    measure = forms.ChoiceField(label="Measure", choices=list(MEASURES.items()), initial="paired")
    team = TeamField(
        label="Team",
        required=False,
        coerce=int,
        empty_value=None,
        error_messages={
            "invalid_choice": "That team is not one you can report on. Choose one of your teams."
        },
    )
    discipline = forms.ChoiceField(label="Lead clinician's discipline", required=False)

    def __init__(self, data: Any, *, teams: list[Team], organisation_id: int) -> None:
        start, end = default_period()
        initial = {"start": start, "end": end, "group_by": "team", "measure": "paired"}
        super().__init__(data, initial=initial)
        team = cast(forms.ChoiceField, self.fields["team"])
        team.choices = [("", "All my teams"), *((t.pk, t.name) for t in teams)]
        discipline = cast(forms.ChoiceField, self.fields["discipline"])
        discipline.choices = [("", "Any"), *disciplines(organisation_id)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date):
            problem = period_problem(start, end)
            if problem is not None:
                self.add_error(*problem)
        return data

    def query_string(self) -> str:
        """The asked report as URL parameters, for its CSV and PDF links."""
        q = self.query()
        parts = {
            "start": q.start.isoformat(),
            "end": q.end.isoformat(),
            "group_by": q.group_by,
            "measure": q.measure,
            "team": "" if q.team is None else str(q.team),
            "discipline": q.discipline,
        }
        return urlencode(parts)

    def query(self) -> Query:
        d = self.cleaned_data
        return Query(
            start=d["start"],
            end=d["end"],
            group_by=d["group_by"],
            measure=d["measure"],
            team=d.get("team"),
            discipline=d.get("discipline") or "",
        )
