"""The outcome report: the database's sums turned into counts, rates and means, with every count
of 1 to 10 people hidden, and every figure from which a hidden count could be worked out hidden
too (alliance/reports/suppression.py).

Rates and means are derived after suppression: a rate is shown only when both its counts are, and
a mean only when the count of people behind it is shown. Nothing here names a client, gives a
date of birth or carries free text; group labels are teams, staff, disciplines and severity bands.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alliance.care.registry import spreadsheet_cell
from alliance.reports.query import COUNTS, GROUPS, MEASURES, Query
from alliance.reports.suppression import Relation, suppress

HIDDEN = "suppressed"

# (key, label, numerator, denominator) of each rate; both counts must be shown.
RATES = (
    ("planned_share", "Planned endings", "planned", "ended"),
    ("recovery_rate", "Recovery rate", "recovered", "cases"),
    ("improvement_rate", "Reliable improvement", "improved", "measured"),
    ("deterioration_rate", "Reliable deterioration", "deteriorated", "measured"),
    ("reliable_recovery_rate", "Reliable recovery", "reliably_recovered", "cases"),
    ("goal_rate", "Goals met", "goals_met", "goals_rated"),
)
# (key, label, sum column, count column of the people it is over)
MEANS = (
    ("phq9_change", "Mean PHQ-9 change", "phq9_change", "measured"),
    ("gad7_change", "Mean GAD-7 change", "gad7_change", "measured"),
    ("alliance_mean", "Mean alliance check (of 40)", "alliance_mean", "alliance_rated"),
)
COUNT_LABELS = {
    "referrals": "Referrals (episodes opened)",
    "ended": "Ended",
    "planned": "Planned endings",
    "unplanned": "Unplanned endings",
    "other_ending": "Other endings",
    "finished": "Finished a course (2+ sessions)",
    "measured": "With first and last scores",
    "cases": "Cases at intake",
    "recovered": "Recovered",
    "improved": "Reliably improved",
    "deteriorated": "Reliably deteriorated",
    "reliably_recovered": "Reliably recovered",
    "goals_rated": "With rated goals",
    "goals_met": "Goals met (all rated 8+)",
    "alliance_rated": "With alliance checks",
}
# What an attacker knows besides the sums: each of these counts is a subset of the next.
SUBSETS = (
    ("reliably_recovered", "recovered"),
    ("reliably_recovered", "improved"),
    ("recovered", "cases"),
    ("cases", "measured"),
    ("improved", "measured"),
    ("deteriorated", "measured"),
    ("measured", "finished"),
    ("finished", "ended"),
    ("goals_met", "goals_rated"),
    ("goals_rated", "finished"),
    ("alliance_rated", "finished"),
)
TOTAL = "all"


@dataclass(frozen=True)
class Cell:
    value: float | None  # None when hidden or not applicable
    hidden: bool = False

    @property
    def text(self) -> str:
        if self.hidden:
            return HIDDEN
        if self.value is None:
            return "–"
        return str(int(self.value)) if float(self.value).is_integer() else f"{self.value:.1f}"


@dataclass
class Row:
    key: str
    label: str
    counts: dict[str, Cell]
    rates: dict[str, Cell] = field(default_factory=dict)
    means: dict[str, Cell] = field(default_factory=dict)

    def percent(self, key: str) -> str:
        cell = self.rates[key]
        if cell.hidden:
            return HIDDEN
        return "–" if cell.value is None else f"{cell.value:.0f} %"


@dataclass
class Report:
    query: Query
    group_label: str
    measure_label: str
    rows: list[Row]
    total: Row
    hidden: int  # how many counts are suppressed
    episodes_seen: bool  # False: nothing opened or ended in the period

    @property
    def means_shown(self) -> list[tuple[str, str]]:
        """The means that apply to the report's measure."""
        keep = {
            "paired": ("phq9_change", "gad7_change", "alliance_mean"),
            "phq9": ("phq9_change", "alliance_mean"),
            "gad7": ("gad7_change", "alliance_mean"),
        }[self.query.measure]
        return [(key, label) for key, label, _, _ in MEANS if key in keep]


def build(query: Query, sums: Sequence[dict[str, Any]], labels: dict[Any, str]) -> Report:
    """The report from the database's rows (one per group) and the groups' display names."""
    groups = [str(r["grp"]) for r in sums]
    by_group = {str(r["grp"]): r for r in sums}
    values: dict[Hashable, int] = {}
    for g in groups:
        for col in COUNTS:
            values[(g, col)] = int(by_group[g][col] or 0)
    for col in COUNTS:
        values[(TOTAL, col)] = sum(values[(g, col)] for g in groups)
    relations = (
        [Relation((TOTAL, col), tuple((g, col) for g in groups)) for col in COUNTS]
        if groups
        else []
    )
    for g in [*groups, TOTAL]:
        relations.append(
            Relation((g, "ended"), ((g, "planned"), (g, "unplanned"), (g, "other_ending")))
        )
    subsets = [((g, small), (g, big)) for g in [*groups, TOTAL] for small, big in SUBSETS]
    found = suppress(values, relations, subsets=subsets)
    hidden = found.hidden
    sums_total = {
        total: sum(float(by_group[g][total] or 0) for g in groups) for _, _, total, _ in MEANS
    }

    def make_row(key: str, label: str, raw: dict[str, Any]) -> Row:
        counts = {col: _count(values[(key, col)], (key, col) in hidden) for col in COUNTS}
        row = Row(key, label, counts)
        for rate, _, top, bottom in RATES:
            row.rates[rate] = _rate(counts[top], counts[bottom])
        for mean, _, total, people in MEANS:
            row.means[mean] = _mean(raw.get(total), counts[people])
        return row

    rows = [make_row(g, labels.get(g, g), by_group[g]) for g in groups]
    total = make_row(TOTAL, "All", sums_total)
    if len(rows) == 1 and query.group_by == "organisation":
        rows = []
    return Report(
        query=query,
        group_label=GROUPS[query.group_by],
        measure_label=MEASURES[query.measure],
        rows=rows,
        total=total,
        hidden=len(hidden),
        episodes_seen=values[(TOTAL, "referrals")] + values[(TOTAL, "ended")] > 0,
    )


def _count(value: int, hidden: bool) -> Cell:
    return Cell(None, hidden=True) if hidden else Cell(value)


def _rate(top: Cell, bottom: Cell) -> Cell:
    if top.hidden or bottom.hidden:
        return Cell(None, hidden=True)
    if not bottom.value:
        return Cell(None)
    assert top.value is not None
    return Cell(round(100 * top.value / bottom.value, 1))


def _mean(total: object, people: Cell) -> Cell:
    if people.hidden:
        return Cell(None, hidden=True)
    if not people.value:
        return Cell(None)
    return Cell(round(float(total or 0) / people.value, 1))  # type: ignore[arg-type]


def header(report: Report) -> list[str]:
    means = report.means_shown
    return [
        report.group_label,
        *(COUNT_LABELS[c] for c in COUNTS),
        *(f"{label} (%)" for _, label, _, _ in RATES),
        *(label for _, label in means),
    ]


def table(report: Report) -> list[list[str]]:
    """The report's rows as text, the All row last; hidden cells say so."""
    means = report.means_shown
    out = []
    for row in [*report.rows, report.total]:
        out.append(
            [
                row.label,
                *(row.counts[c].text for c in COUNTS),
                *(row.rates[r].text for r, _, _, _ in RATES),
                *(row.means[m].text for m, _ in means),
            ]
        )
    return out


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    q = report.query
    writer.writerow([f"Outcome report {q.start.isoformat()} to {q.end.isoformat()}"])
    writer.writerow([f"Measure: {report.measure_label}; counts of 1 to 10 are suppressed"])
    writer.writerow(header(report))
    for line in table(report):
        writer.writerow([spreadsheet_cell(line[0]), *line[1:]])
    return out.getvalue()


# The report in three tables, for the page and the PDF: (title, [(kind, key, label)]).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Activity and endings",
        (
            ("count", "referrals", "Referrals"),
            ("count", "ended", "Ended"),
            ("count", "finished", "Finished a course"),
            ("count", "planned", "Planned"),
            ("count", "unplanned", "Unplanned"),
            ("count", "other_ending", "Other"),
            ("rate", "planned_share", "Planned (%)"),
        ),
    ),
    (
        "Outcomes of finished courses",
        (
            ("count", "measured", "Measured"),
            ("count", "cases", "Cases at intake"),
            ("count", "recovered", "Recovered"),
            ("rate", "recovery_rate", "Recovery (%)"),
            ("count", "improved", "Reliably improved"),
            ("rate", "improvement_rate", "Improved (%)"),
            ("count", "deteriorated", "Reliably deteriorated"),
            ("rate", "deterioration_rate", "Deteriorated (%)"),
            ("count", "reliably_recovered", "Reliably recovered"),
            ("rate", "reliable_recovery_rate", "Reliable recovery (%)"),
            ("mean", "phq9_change", "Mean PHQ-9 change"),
            ("mean", "gad7_change", "Mean GAD-7 change"),
        ),
    ),
    (
        "Goals and alliance",
        (
            ("count", "goals_rated", "With rated goals"),
            ("count", "goals_met", "Goals met"),
            ("rate", "goal_rate", "Goals met (%)"),
            ("count", "alliance_rated", "With alliance checks"),
            ("mean", "alliance_mean", "Mean alliance (of 40)"),
        ),
    ),
)


def cell_text(row: Row, kind: str, key: str) -> str:
    if kind == "count":
        return row.counts[key].text
    if kind == "rate":
        return row.percent(key)
    return row.means[key].text


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """Each section as (title, header, rows of text), the All row last; means that do not
    apply to the report's measure are left out."""
    means = {key for key, _ in report.means_shown}
    out = []
    for title, columns in SECTIONS:
        kept = [c for c in columns if c[0] != "mean" or c[1] in means]
        head = [report.group_label, *(label for _, _, label in kept)]
        rows = [
            [row.label, *(cell_text(row, kind, key) for kind, key, _ in kept)]
            for row in [*report.rows, report.total]
        ]
        out.append((title, head, rows))
    return out
