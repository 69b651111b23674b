"""Gathers one episode's chart from the database: a fixed handful of queries, however many scores.

The caller has already read the client through access_client (which checks and audits); every
query here is scoped to that client's episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import F
from django.utils import timezone

from alliance.accounts.models import ClinicSettings
from alliance.alerts.models import Alert, Kind
from alliance.charts.figure import BandArea, ChartSpec, Event, EventKind, RefLine, Score
from alliance.clients.access import NotFound
from alliance.clients.models import Attendance, Client, Encounter, Episode, Phase
from alliance.measurement import Instrument
from alliance.measures.summary import Point, Series, episode_series

ALLIANCE_CHECK = "alliance-session-check"
DEFAULT_RUPTURE_FLOOR = 30  # the ClinicSettings default, for a clinic that never saved its own

SESSION_MARK: dict[str, EventKind] = {
    Attendance.ATTENDED: "attended",
    Attendance.DID_NOT_ATTEND: "dna",
    Attendance.CANCELLED: "cancelled",
    Attendance.SCHEDULED: "scheduled",
}


@dataclass(frozen=True)
class Row:
    at: datetime
    total: int
    band: str
    change: int | None  # against intake; None on the intake row itself
    reliable: str
    risk: bool


@dataclass(frozen=True)
class Table:
    key: str
    name: str
    rows: tuple[Row, ...]
    verdict: str
    cutoff: int | None
    reliable_change: int | None


@dataclass
class ChartData:
    client: Client
    episode: Episode | None
    episodes: list[Episode]
    specs: list[ChartSpec]
    tables: list[Table]
    encounters: list[Encounter]
    alerts: list[Alert]


def chart_data(client: Client, episode_id: int | None = None) -> ChartData:
    """The chosen episode's chart, or by default the open one (else the most recent)."""
    episodes = list(client.episodes.all())
    episode = _choose(episodes, episode_id)
    if episode is None:
        return ChartData(client, None, episodes, [], [], [], [])
    series = episode_series(episode)
    encounters = list(episode.encounters.all())
    alerts = list(
        Alert.objects.filter(episode=episode)
        .annotate(instrument_id=F("response__instrument_id"))
        .order_by("opened_at")
    )
    specs = _specs(client, episode, series, encounters, alerts)
    tables = [_table(s) for s in series]
    return ChartData(client, episode, episodes, specs, tables, encounters, alerts)


def _choose(episodes: list[Episode], episode_id: int | None) -> Episode | None:
    if episode_id is not None:
        chosen = next((e for e in episodes if e.pk == episode_id), None)
        if chosen is None:
            raise NotFound("episode not found")
        return chosen
    current = next((e for e in episodes if e.phase != Phase.CLOSED), None)
    return current or (episodes[0] if episodes else None)


def _specs(
    client: Client,
    episode: Episode,
    series: list[Series],
    encounters: list[Encounter],
    alerts: list[Alert],
) -> list[ChartSpec]:
    start, end = _span(episode)
    sessions = tuple(
        Event(
            timezone.localtime(e.starts_at),
            SESSION_MARK.get(e.attendance, "scheduled"),
            f"{e.get_kind_display()}, {e.get_attendance_display().lower()}",
        )
        for e in encounters
    )
    outcomes = [s for s in series if s.instrument.id != ALLIANCE_CHECK]
    alliance = [s for s in series if s.instrument.id == ALLIANCE_CHECK]
    # An alert goes on the chart of the measure that raised it; one without goes on the first.
    first_id = outcomes[0].instrument.id if outcomes else ALLIANCE_CHECK
    specs = []
    for s in outcomes + alliance:
        mine = tuple(
            _alert_event(a)
            for a in alerts
            if (getattr(a, "instrument_id", None) or first_id) == s.instrument.id
        )
        is_alliance = s.instrument.id == ALLIANCE_CHECK
        lines = (_rupture_line(client),) if is_alliance else _caseness(s.instrument)
        specs.append(
            ChartSpec(
                key=f"chart-{s.instrument.id}",
                name=chart_name(s),
                subject=client.display_name,
                start=start,
                end=end,
                y_min=s.instrument.min_total,
                y_max=s.instrument.max_total,
                scores=_scores(s),
                bands=_bands(s.instrument),
                lines=lines,
                verdict=s.reliable,
                sessions=sessions,
                alerts=mine,
                compact=is_alliance,
            )
        )
    return specs


def chart_name(series: Series) -> str:
    """'PHQ-9' for the published measures; our own unvalidated ones by their plain title."""
    if series.instrument.validated is False:
        # Their titles end "(not a validated instrument)", which is no name for a chart.
        return series.instrument.title.split(" (")[0]
    return series.name


def _span(episode: Episode) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(episode.opened_on, time()))
    if episode.closed_on:
        end = timezone.make_aware(datetime.combine(episode.closed_on, time(23, 59)))
    else:
        end = timezone.localtime()
    return start, end


def _reliable(series: Series, intake: Point, point: Point) -> str:
    # The same rule as the client page's summary, applied to each score in turn.
    return Series(series.instrument, series.name, [intake, point]).reliable


def _marked(verdict: str) -> str:
    """Only a reliable change gets a mark on the chart; 'no reliable change' gets none."""
    return verdict if verdict in {"improved", "deteriorated"} else ""


def _scores(series: Series) -> tuple[Score, ...]:
    intake = series.points[0]
    return tuple(
        Score(
            timezone.localtime(p.at),
            p.total,
            p.band,
            _marked(_reliable(series, intake, p)) if i else "",
        )
        for i, p in enumerate(series.points)
    )


def _bands(instrument: Instrument) -> tuple[BandArea, ...]:
    bands = sorted(instrument.bands, key=lambda b: b.min)
    worse_up = instrument.direction == "higher-is-worse"
    areas = []
    for i, band in enumerate(bands):
        # Edges at the published cut-points (5, 10, 15...); a score on one is in the band above.
        high = bands[i + 1].min if i + 1 < len(bands) else instrument.max_total
        level = i if worse_up else len(bands) - 1 - i
        areas.append(BandArea(band.min, high, f"{band.label} {band.min}–{band.max}", level))
    return tuple(areas)


def _caseness(instrument: Instrument) -> tuple[RefLine, ...]:
    cutoff = instrument.clinical_cutoff
    if cutoff is None:
        return ()
    return (RefLine(cutoff.value, f"caseness: {cutoff.value} or more", "caseness cut-off"),)


def _rupture_line(client: Client) -> RefLine:
    floor = (
        ClinicSettings.objects.filter(organisation_id=client.organisation_id)
        .values_list("rupture_floor", flat=True)
        .first()
    )
    value = DEFAULT_RUPTURE_FLOOR if floor is None else floor
    return RefLine(value, f"rupture: below {value}", "clinic's rupture floor")


def _alert_event(alert: Alert) -> Event:
    kind: EventKind = "risk" if alert.kind == Kind.RISK else "alert"
    label = f"{alert.get_kind_display()} ({alert.get_status_display().lower()})"
    return Event(timezone.localtime(alert.opened_at), kind, label)


def _table(series: Series) -> Table:
    intake = series.points[0]
    rows = tuple(
        Row(
            timezone.localtime(p.at),
            p.total,
            p.band,
            p.total - intake.total if i else None,
            _reliable(series, intake, p) if i else "",
            any(flag.startswith("risk") for flag in p.flags),
        )
        for i, p in enumerate(series.points)
    )
    instrument = series.instrument
    return Table(
        key=f"table-{instrument.id}",
        name=chart_name(series),
        rows=rows,
        verdict=series.reliable,
        cutoff=instrument.clinical_cutoff.value if instrument.clinical_cutoff else None,
        reliable_change=instrument.reliable_change.value if instrument.reliable_change else None,
    )
