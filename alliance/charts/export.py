"""Turns a client's chart data into the plain Document that pdf.py draws."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from alliance.charts.data import GOALS_PANEL, ChartData, Table
from alliance.charts.figure import day
from alliance.charts.layout import layout
from alliance.charts.pdf import Document, render_pdf
from alliance.clients.models import Episode

SCORE_HEADER = ["Date", "Total", "Band", "Change from intake", "Reliable change", "Risk item"]
MOMENT_HEADER = ["Date", "Kind", "In their words", "Goal"]
PdfTable = tuple[str, list[str], list[list[str]]]  # caption, header, rows


def chart_pdf(found: ChartData) -> bytes:
    return render_pdf(document(found))


def document(found: ChartData) -> Document:
    tables = [_score_table(t) for t in found.tables]
    tables += _goal_tables(found)
    if found.moments:
        rows = [[day(m.on), m.kind_name, m.text, m.goal or "—"] for m in found.moments]
        tables.append(("Small victories and breakthroughs", MOMENT_HEADER, rows))
    if found.encounters:
        rows = [
            [_when(e.starts_at), e.get_kind_display(), e.get_attendance_display()]
            for e in found.encounters
        ]
        tables.append(("Sessions", ["When", "Kind", "Attendance"], rows))
    if found.alerts:
        rows = [
            [_when(a.opened_at), a.get_kind_display(), a.get_status_display()] for a in found.alerts
        ]
        tables.append(("Alerts", ["Opened", "Kind", "Status"], rows))
    return Document(
        client_name=found.client.display_name,
        record_number=found.client.record_number,
        episode_line=_episode_line(found.episode),
        generated=f"printed {_when(timezone.now())}",
        scenes=[layout(spec) for spec in found.specs],
        tables=tables,
    )


def _goal_tables(found: ChartData) -> list[PdfTable]:
    if not found.goals:
        return []
    summary = [
        [
            g.words,
            _or_dash(g.first),
            _or_dash(g.latest),
            "—" if g.change is None else f"{g.change:+d}",
        ]
        for g in found.goals
    ]
    header = ["Goal", "First rating", "Latest rating", "Change"]
    tables = [(f"Goal attainment: {found.attainment.sentence}", header, summary)]
    if found.ratings:
        rows = [[day(r.at), r.goal, str(r.rating), r.rated_by] for r in found.ratings]
        tables.append((GOALS_PANEL, ["Date", "Goal", "Rating", "Rated by"], rows))
    return tables


def _or_dash(value: int | None) -> str:
    return "—" if value is None else str(value)


def _score_table(table: Table) -> PdfTable:
    rows = [
        [
            day(r.at),
            str(r.total),
            r.band or "—",
            "intake" if r.change is None else f"{r.change:+d}",
            r.reliable or "—",
            "endorsed" if r.risk else "",
            *([r.expected or "—"] if table.expected_header else []),
        ]
        for r in table.rows
    ]
    if table.expected_header:
        caption = f"{table.name} scores; {table.expected_caption}"
        return caption, [*SCORE_HEADER, table.expected_header], rows
    return f"{table.name} scores", SCORE_HEADER, rows


def _when(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{day(local)}, {local:%H:%M}"


def _episode_line(episode: Episode | None) -> str:
    if episode is None:
        return "no episode of care yet"
    line = f"episode opened {day(episode.opened_on)}"
    if episode.closed_on:
        line += f", closed {day(episode.closed_on)}"
    return f"{line} ({episode.get_phase_display().lower()})"
