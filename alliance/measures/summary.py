"""A client's scores over an episode, with change since intake, for the chart and pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F

from alliance.alerts.rules import short_name
from alliance.clients.models import EncounterKind, Episode
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


def episode_series(episode: Episode) -> list[Series]:
    """Complete totals per instrument, oldest first, in the order instruments first appear;
    each point says whether it was a follow-up check-in (one query, however many)."""
    series: dict[str, Series] = {}
    rows = (
        Response.objects.filter(episode=episode, complete=True)
        .annotate(encounter_kind=F("encounter__kind"))
        .order_by("submitted_at", "pk")
    )
    for row in rows:
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
                row.encounter_kind == EncounterKind.FOLLOW_UP,
            )
        )
    return list(series.values())
