"""A client's scores over an episode, with change since intake, for the chart and pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery

from alliance.alerts.rules import short_name
from alliance.clients.models import Encounter, EncounterKind, Episode
from alliance.measurement import Instrument, load_instrument
from alliance.measures.models import Response


@dataclass(frozen=True)
class Point:
    at: datetime
    total: int
    band: str
    response_id: int
    flags: tuple[str, ...] = ()
    follow_up: bool = False  # answered at a follow-up check-in after discharge, not in treatment


@dataclass
class Series:
    instrument: Instrument
    name: str
    points: list[Point] = field(default_factory=list)

    @property
    def intake(self) -> Point | None:
        return self.points[0] if self.points else None

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def change(self) -> int | None:
        if len(self.points) < 2:
            return None
        return self.points[-1].total - self.points[0].total

    @property
    def reliable(self) -> str:
        """'improved', 'deteriorated', 'no reliable change' or '' when it cannot be said."""
        rc = self.instrument.reliable_change
        change = self.change
        if rc is None or change is None:
            return ""
        better = -change if self.instrument.direction == "higher-is-worse" else change
        if better >= rc.value:
            return "improved"
        if -better >= rc.value:
            return "deteriorated"
        return "no reliable change"


def series_rows(episode: Episode) -> QuerySet[Response]:
    """The episode's complete responses in time order, each with its encounter's kind, looked
    up by key: joined, PostgreSQL's planner hashed the whole encounter table for them (as in
    `alerts.fixed.encounter_kind`)."""
    kind = Encounter.objects.filter(pk=OuterRef("encounter_id")).order_by().values("kind")[:1]
    return (
        Response.objects.filter(episode=episode, complete=True)
        .annotate(encounter_kind=Subquery(kind))
        .order_by("submitted_at", "pk")
    )


def episode_series(episode: Episode) -> list[Series]:
    """Complete totals per instrument, oldest first, in the order instruments first appear;
    each point says whether it was a follow-up check-in (one query, however many)."""
    series: dict[str, Series] = {}
    for row in series_rows(episode):
        if row.total is None:
            continue
        if row.instrument_id not in series:
            instrument = load_instrument(row.instrument_id)
            series[row.instrument_id] = Series(instrument, short_name(instrument))
        series[row.instrument_id].points.append(
            Point(
                row.submitted_at,
                row.total,
                row.band,
                row.pk,
                tuple(row.flags),
                row.encounter_kind == EncounterKind.FOLLOW_UP,  # type: ignore[attr-defined]
            )
        )
    return list(series.values())
