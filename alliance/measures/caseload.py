"""The caseload: every client on the clinician's teams, with who needs attention first.

The rows come from one query whatever the caseload's size: every figure is a subquery
(latest and intake scores of the open episode, alliance trend, open alerts). The alert kinds of
the clients on the page come from one more query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Count,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.alerts.models import Alert, Status
from alliance.alerts.rules import short_name
from alliance.clients.access import list_clients, list_clients_sql
from alliance.clients.models import Attendance, Episode, Phase
from alliance.measurement import load_instrument
from alliance.measures.caseload_sql import NO_ALERT, Figures, by_attention, figures
from alliance.measures.models import Response
from alliance.rows import Columns, execute, placeholders, table

SORTS = {
    "attention": "Needs attention",
    "name": "Name",
    "last_measured": "Last measured",
    "next": "Next session",
    "sessions": "Sessions",
}
# Empty values sort last on both databases (PostgreSQL would put them first when descending).
ORDER = {
    "attention": [F("attention").asc()],
    "name": [F("display_name").asc()],
    "last_measured": [F("last_measured").desc(nulls_last=True)],
    "next": [F("next_at").asc(nulls_last=True)],
    "sessions": [F("sessions").desc()],
}

OUTCOMES = ("phq9", "gad7")


def _sessions() -> Count:
    """Sessions attended in the open episode (a sort key; the page's figures come from SQL)."""
    open_episode = Episode.objects.filter(client=OuterRef("pk")).exclude(phase=Phase.CLOSED)
    return Count(
        "encounters",
        filter=Q(encounters__attendance=Attendance.ATTENDED)
        & Q(encounters__episode__in=open_episode.values("pk")),
    )


def _next_session(now: datetime) -> Min:
    return Min(
        "encounters__starts_at",
        filter=Q(encounters__attendance=Attendance.SCHEDULED, encounters__starts_at__gte=now),
    )


def _last_measured() -> Subquery:
    newest = Response.objects.filter(client=OuterRef("pk")).order_by("-submitted_at")
    return Subquery(newest.values("submitted_at")[:1])


def _alert_priority() -> Coalesce:
    """The most urgent unresolved alert's priority; NO_ALERT sorts after them all."""
    unresolved = Alert.objects.filter(client=OuterRef("pk")).exclude(status=Status.RESOLVED)
    lowest = Subquery(
        unresolved.order_by("priority").values("priority")[:1], output_field=IntegerField()
    )
    return Coalesce(lowest, Value(NO_ALERT))


@dataclass(frozen=True)
class Page:
    rows: list[Figures]
    number: int
    has_next: bool


def caseload(
    actor: Actor,
    *,
    sort: str = "attention",
    phase: str = "",
    query: str = "",
    attention_only: bool = False,
    page: int = 1,
    size: int = 50,
) -> Page:
    """One page of the caseload in two queries, whatever its size.

    The first finds the page's clients, computing only what its filters and order need; the
    second computes every figure for those clients alone. No count: the page knows whether
    another follows by asking for one row more.
    """
    now = timezone.now()
    start = (page - 1) * size
    if sort == "attention" and not (phase or query or attention_only):
        # The page as it first opens: its order in fixed SQL (see by_attention).
        ids = by_attention(*list_clients_sql(actor, "c"), offset=start, limit=size + 1)
        return _page(ids, size, page, now)
    keys: dict[str, Any] = {"attention": _alert_priority()}
    if phase:
        open_episode = Episode.objects.filter(client=OuterRef("pk")).exclude(phase=Phase.CLOSED)
        keys["phase"] = Subquery(open_episode.values("phase")[:1])
    if sort == "last_measured":
        keys["last_measured"] = _last_measured()
    elif sort == "next":
        keys["next_at"] = _next_session(now)
    elif sort == "sessions":
        keys["sessions"] = _sessions()
    found = list_clients(actor).annotate(**keys)
    if phase:
        found = found.filter(**{"phase": phase})  # an annotation: the type checker cannot see it
    if query:
        found = found.filter(Q(display_name__icontains=query) | Q(record_number__icontains=query))
    if attention_only:
        found = found.filter(**{"attention__lt": NO_ALERT})
    ids = list(
        found.order_by(*ORDER[sort], "display_name", "pk").values_list("pk", flat=True)[
            start : start + size + 1
        ]
    )
    return _page(ids, size, page, now)


def _page(ids: list[int], size: int, number: int, now: datetime) -> Page:
    """The page of the first `size` ids (one more was asked for, to know if a page follows)."""
    shown = ids[:size]
    rows = figures(shown, now)  # the ids came from the actor's visible clients
    return Page([rows[pk] for pk in shown if pk in rows], number, len(ids) > size)


@dataclass(frozen=True)
class Change:
    name: str
    latest: int
    band: str
    change: int | None
    verdict: str  # "improved", "deteriorated", "no reliable change", ""

    @property
    def change_text(self) -> str:
        return f"{self.change:+d}" if self.change is not None else ""

    @property
    def verdict_class(self) -> str:
        return self.verdict.replace(" ", "-")


def changes(row: Figures) -> list[Change]:
    """Latest score and change since intake per outcome measure, judged by its threshold."""
    found = []
    for instrument_id in OUTCOMES:
        latest = getattr(row, f"{instrument_id}_latest", None)
        if latest is None:
            continue
        intake = getattr(row, f"{instrument_id}_intake", None)
        instrument = load_instrument(instrument_id)
        change = latest - intake if intake is not None else None
        verdict = ""
        rc = instrument.reliable_change
        if rc is not None and change is not None:
            if change <= -rc.value:
                verdict = "improved"
            elif change >= rc.value:
                verdict = "deteriorated"
            else:
                verdict = "no reliable change"
        name = short_name(instrument)
        found.append(
            Change(name, latest, getattr(row, f"{instrument_id}_band", ""), change, verdict)
        )
    return found


def alliance_trend(row: Figures) -> str:
    latest = getattr(row, "alliance_latest", None)
    before = getattr(row, "alliance_before", None)
    if latest is None:
        return ""
    if before is None:
        return f"{latest}/40"
    arrow = "↑" if latest > before else "↓" if latest < before else "→"
    return f"{latest}/40 {arrow}"


# What a caseload row shows of an alert; the rest of it stays in the database.
_FLAG = Columns(Alert, ["id", "client", "kind", "reason", "status"])


def alert_kinds(clients: list[Figures]) -> dict[int, list[Alert]]:
    """Unresolved alerts of the clients on one page, most urgent first, in one fixed statement
    (alliance.rows: the queryset cost more to build than to run)."""
    found: dict[int, list[Alert]] = {c.pk: [] for c in clients}
    if not found:
        return found
    statement = (
        f"SELECT {_FLAG.select('a')} FROM {table(Alert)} a "  # noqa: S608
        f"WHERE a.client_id IN ({placeholders(len(found))}) AND a.status <> %s "
        "ORDER BY a.priority, a.opened_at DESC, a.id DESC"
    )
    for row in execute(statement, [*found, Status.RESOLVED]):
        alert = _FLAG.load(row)
        found[alert.client_id].append(alert)
    return found


@dataclass(frozen=True)
class Row:
    """One caseload line, its text ready for the page (rendering is the page's main cost)."""

    pk: int
    name: str
    record: str
    alerts: list[Alert]
    scores: list[Change]
    alliance: str
    phase: str
    phase_label: str
    sessions: str
    last_measured: str
    next_at: str


PHASE_LABELS = dict(Phase.choices)


def rows_for_display(clients: list[Figures]) -> list[Row]:
    alerts = alert_kinds(clients)
    rows = []
    for c in clients:
        phase = getattr(c, "phase", None) or ""
        planned = getattr(c, "planned", None)
        sessions = getattr(c, "sessions", 0)
        rows.append(
            Row(
                pk=c.pk,
                name=c.display_name,
                record=c.record_number,
                alerts=alerts[c.pk],
                scores=changes(c),
                alliance=alliance_trend(c),
                phase=phase,
                phase_label=PHASE_LABELS.get(phase, ""),
                sessions=f"{sessions} of {planned}" if planned else str(sessions),
                last_measured=_day(getattr(c, "last_measured", None), "%-d %b %Y"),
                next_at=_day(getattr(c, "next_at", None), "%a %-d %b, %H:%M"),
            )
        )
    return rows


def _day(moment: datetime | None, pattern: str) -> str:
    return timezone.localtime(moment).strftime(pattern) if moment else ""
