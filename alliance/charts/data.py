"""Gathers one episode's chart from the database: a fixed handful of queries, however many scores.

The caller has already read the client through access_client (which checks and audits); every
query here is scoped to that client's episode. Goals and moments are read through
alliance.agency.access, so a moment a client kept for one clinician reaches no one else's chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from django.db.models import F
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import ClinicSettings
from alliance.agency.access import visible_goals, visible_moments
from alliance.agency.models import Goal, GoalStatus, Moment, MomentKind
from alliance.agency.ratings import RatingSpan
from alliance.agency.readiness import GOAL_ATTAINED
from alliance.alerts.models import Alert, Kind
from alliance.charts.figure import (
    BandArea,
    ChartSpec,
    Event,
    EventKind,
    Expected,
    ExpectedBand,
    RefLine,
    Score,
    Trace,
    day,
    ordinal,
    percentiles,
    score_range,
)
from alliance.charts.layout import GOOD
from alliance.clients.access import NotFound
from alliance.clients.models import Attendance, Client, Encounter, EncounterKind, Episode, Phase
from alliance.measurement import Instrument
from alliance.measures.summary import Point, Series, episode_series
from alliance.trajectories.expected import expected_for

ALLIANCE_CHECK = "alliance-session-check"
DEFAULT_RUPTURE_FLOOR = 30  # the ClinicSettings default, for a clinic that never saved its own
GOALS_PANEL = "Goals (0-10, the client's own rating)"
GOAL_LABEL = 32  # characters of a goal's words in the chart's legend and the ratings table
AHEAD = 3  # booked sessions after the latest score that the expected range is drawn ahead to
EXPECTED_LATER = "The clinic's expected range is drawn from the second score on."

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
    expected: str = ""  # the clinic's expected range at this score, "8–15 (most likely 11)"


@dataclass(frozen=True)
class Table:
    key: str
    name: str
    rows: tuple[Row, ...]
    verdict: str
    cutoff: int | None
    reliable_change: int | None
    # With the clinic's expected range: its column's header, and what the range is.
    expected_header: str = ""
    expected_caption: str = ""


@dataclass(frozen=True)
class Fitted:
    """The clinic's expected range for one series: what the chart draws, and each score's."""

    band: ExpectedBand
    by_response: dict[int, Expected]


@dataclass(frozen=True)
class Rating:
    at: datetime
    goal: str  # the goal's label: its words shortened, and "(retired)" if it is
    rating: int
    rated_by: str


@dataclass(frozen=True)
class GoalLine(RatingSpan):
    """One goal of the episode with its ratings, oldest first."""

    words: str  # in full, with "(retired)" if it is
    label: str
    retired: bool
    ratings: tuple[Rating, ...]


@dataclass(frozen=True)
class MomentRow:
    on: date
    kind: str  # MomentKind: "victory" or "breakthrough"
    kind_name: str
    text: str
    goal: str  # the goal's words, or "" for none

    @property
    def label(self) -> str:
        """The words for the moment's mark on the chart."""
        about = f" (goal: {self.goal})" if self.goal else ""
        return f"{self.kind_name} on {day(self.on)}: {self.text}{about}"


@dataclass(frozen=True)
class Attainment:
    """How many active goals' latest rating reached GOAL_ATTAINED; retired ones are not counted."""

    attained: int
    active: int
    retired: int
    threshold: int = GOAL_ATTAINED

    @property
    def sentence(self) -> str:
        return f"{self.attained} of {self.active} goals rated {self.threshold} or more"


@dataclass
class ChartData:
    client: Client
    episode: Episode | None
    episodes: list[Episode]
    specs: list[ChartSpec]
    tables: list[Table]
    encounters: list[Encounter]
    alerts: list[Alert]
    goals: list[GoalLine] = field(default_factory=list)
    moments: list[MomentRow] = field(default_factory=list)

    @property
    def ratings(self) -> list[Rating]:
        """Every goal's ratings in one list, by date."""
        return sorted((r for g in self.goals for r in g.ratings), key=lambda r: r.at)

    @property
    def attainment(self) -> Attainment:
        active = [g for g in self.goals if not g.retired]
        attained = sum(1 for g in active if g.latest is not None and g.latest >= GOAL_ATTAINED)
        return Attainment(attained, len(active), len(self.goals) - len(active))


def chart_data(actor: Actor, client: Client, episode_id: int | None = None) -> ChartData:
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
    goals = _goals(actor, client, episode)
    moments = _moments(actor, client, episode)
    # One query for the clinic's settings, and only when there is something to chart.
    clinic = (
        ClinicSettings.objects.filter(organisation_id=client.organisation_id).first()
        if series
        else None
    )
    fitted = _fitted(clinic, episode, series, encounters)
    specs = _specs(client, episode, series, encounters, alerts, goals, moments, clinic, fitted)
    tables = [_table(s, fitted.get(s.instrument.id)) for s in series]
    return ChartData(client, episode, episodes, specs, tables, encounters, alerts, goals, moments)


def _goals(actor: Actor, client: Client, episode: Episode) -> list[GoalLine]:
    """Two queries however many goals: the goals, then all their ratings."""
    rows = visible_goals(actor).filter(client=client, episode=episode).prefetch_related("ratings")
    lines = []
    for goal in rows:
        retired = goal.status == GoalStatus.RETIRED
        label = shorten(goal.text, GOAL_LABEL) + (" (retired)" if retired else "")
        ratings = tuple(
            Rating(timezone.localtime(r.rated_at), label, r.rating, r.get_source_display())
            for r in goal.ratings.all()
        )
        lines.append(GoalLine(_goal_words(goal), label, retired, ratings))
    return lines


def _fitted(
    clinic: ClinicSettings | None,
    episode: Episode,
    series: list[Series],
    encounters: list[Encounter],
) -> dict[str, Fitted]:
    """The clinic's expected range per instrument it has fitted one for, placed on this episode.

    Measured session k is the k-th score in treatment, as the fit counts them (follow-up
    check-ins left out), and its range goes at that score's time. An episode still in treatment
    also gets the range at its next few booked sessions to come, up to its planned number, where
    the next scores should be. Fits are cached per process, and the series' points already
    say which are follow-up check-ins: no query here once a fit has been read.
    """
    if clinic is None:
        return {}
    fits = {
        s.instrument.id: fit
        for s in series
        if s.instrument.id != ALLIANCE_CHECK
        and (fit := expected_for(clinic, s.instrument.id)) is not None
    }
    if not fits:
        return {}
    found = {}
    for s in series:
        fit = fits.get(s.instrument.id)
        treatment = [p for p in s.points if not p.follow_up]
        if fit is None or not treatment or fit.band(treatment[0].total, 2) is None:
            continue  # an intake score the fit has no row for
        intake = treatment[0].total
        by_response: dict[int, Expected] = {}
        for session, point in enumerate(treatment[1:], start=2):
            band = fit.band(intake, session)
            if band is not None:
                at = timezone.localtime(point.at)
                by_response[point.response_id] = Expected(at, session, *band, score=point.total)
        ahead = []
        if episode.ended_on is None and episode.closed_on is None:
            # Only sessions yet to come: where the next scores should be.
            after = max(treatment[-1].at, timezone.now())
            booked = [
                e
                for e in encounters
                if e.attendance == Attendance.SCHEDULED
                and e.kind != EncounterKind.FOLLOW_UP
                and e.starts_at > after
            ]
            booked.sort(key=lambda e: e.starts_at)
            for session, encounter in enumerate(booked[:AHEAD], start=len(treatment) + 1):
                band = fit.band(intake, session)
                plan = episode.planned_sessions
                if band is None or (plan is not None and session > plan):
                    break
                ahead.append(Expected(timezone.localtime(encounter.starts_at), session, *band))
        shown = ExpectedBand(
            intake=intake,
            points=(*by_response.values(), *ahead),
            lower_percentile=fit.lower_percentile,
            upper_percentile=fit.upper_percentile,
            fitted_on=fit.fitted_on,
            episodes=fit.episodes,
        )
        found[s.instrument.id] = Fitted(shown, by_response)
    return found


def _goal_words(goal: Goal) -> str:
    return goal.text + (" (retired)" if goal.status == GoalStatus.RETIRED else "")


def _moments(actor: Actor, client: Client, episode: Episode) -> list[MomentRow]:
    # Never Moment.objects: visible_moments leaves out what a client kept for someone else.
    rows: list[Moment] = list(
        visible_moments(actor).filter(client=client, episode=episode).select_related("goal")
    )
    return [
        MomentRow(
            m.happened_on,
            m.kind,
            m.get_kind_display(),
            m.text,
            _goal_words(m.goal) if m.goal else "",
        )
        for m in rows
    ]


def shorten(words: str, limit: int) -> str:
    """The words on one line, cut at a space to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(words.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def _attained_line() -> RefLine:
    value = GOAL_ATTAINED
    return RefLine(value, f"attained: {value} or more", "attained mark", GOOD)


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
    goals: list[GoalLine],
    moments: list[MomentRow],
    clinic: ClinicSettings | None,
    fitted: dict[str, Fitted],
) -> list[ChartSpec]:
    sessions = tuple(
        Event(
            timezone.localtime(e.starts_at),
            SESSION_MARK.get(e.attendance, "scheduled"),
            f"{e.get_kind_display()}, {e.get_attendance_display().lower()}",
        )
        for e in encounters
    )
    marks = tuple(_moment_event(m) for m in moments)
    rated = [g for g in goals if g.ratings]
    times = [p.at for s in series for p in s.points] + [a.opened_at for a in alerts]
    times += [e.at for e in sessions + marks] + [r.at for g in rated for r in g.ratings]
    start, end = _axis(episode, times)
    # What every panel shares: the subject, one time axis, the sessions and the moments.
    shared = ChartSpec(
        key="",
        name="",
        subject=client.display_name,
        start=start,
        end=end,
        y_min=0,
        y_max=1,
        sessions=sessions,
        moments=marks,
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
        lines = (_rupture_line(clinic),) if is_alliance else _caseness(s.instrument)
        mine_fitted = fitted.get(s.instrument.id)
        band = mine_fitted.band if mine_fitted else None
        specs.append(
            replace(
                shared,
                key=f"chart-{s.instrument.id}",
                name=chart_name(s),
                y_min=s.instrument.min_total,
                y_max=s.instrument.max_total,
                scores=_scores(s),
                bands=_bands(s.instrument),
                lines=lines,
                verdict=s.reliable,
                alerts=mine,
                compact=is_alliance,
                expected=band if band and band.points else None,
                expected_note=EXPECTED_LATER if band and not band.points else "",
            )
        )
    if rated:
        # The client's own view of their progress, after the outcome measures.
        specs.insert(len(outcomes), _goals_panel(shared, rated))
    return specs


def _axis(episode: Episode, times: list[datetime]) -> tuple[datetime, datetime]:
    """One time axis for every panel: the episode, widened to every mark on any of them."""
    start, end = _span(episode)
    # In local time, as the date ticks fall at local midnights.
    return timezone.localtime(min([start, *times])), timezone.localtime(max([end, *times]))


def _goals_panel(shared: ChartSpec, rated: list[GoalLine]) -> ChartSpec:
    return replace(
        shared,
        key="chart-goals",
        name=GOALS_PANEL,
        y_min=0,
        y_max=10,
        lines=(_attained_line(),),
        compact=True,
        traces=tuple(
            Trace(g.label, tuple(Score(r.at, r.rating) for r in g.ratings)) for g in rated
        ),
    )


def _moment_event(moment: MomentRow) -> Event:
    kind: EventKind = "victory" if moment.kind == MomentKind.VICTORY else "breakthrough"
    # A moment has a day, not a time: its mark goes at midday.
    at = timezone.make_aware(datetime.combine(moment.on, time(12)))
    return Event(at, kind, moment.label)


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


def _rupture_line(clinic: ClinicSettings | None) -> RefLine:
    value = DEFAULT_RUPTURE_FLOOR if clinic is None else clinic.rupture_floor
    return RefLine(value, f"rupture: below {value}", "clinic's rupture floor")


def _alert_event(alert: Alert) -> Event:
    kind: EventKind = "risk" if alert.kind == Kind.RISK else "alert"
    label = f"{alert.get_kind_display()} ({alert.get_status_display().lower()})"
    return Event(timezone.localtime(alert.opened_at), kind, label)


def _table(series: Series, fitted: Fitted | None = None) -> Table:
    intake = series.points[0]
    rows = tuple(
        Row(
            timezone.localtime(p.at),
            p.total,
            p.band,
            p.total - intake.total if i else None,
            _reliable(series, intake, p) if i else "",
            any(flag.startswith("risk") for flag in p.flags),
            _expected_cell(fitted, p) if fitted else "",
        )
        for i, p in enumerate(series.points)
    )
    instrument = series.instrument
    header = caption = ""
    if fitted is not None and fitted.by_response:
        band = fitted.band
        header = f"Expected ({ordinal(band.lower_percentile)}-{ordinal(band.upper_percentile)})"
        caption = (
            f"expected: the range of this clinic's clients who started at {band.intake} "
            f"({percentiles(band)}, most likely score in brackets), fitted {day(band.fitted_on)} "
            f"from {band.episodes} finished episodes"
        )
    return Table(
        key=f"table-{instrument.id}",
        name=chart_name(series),
        rows=rows,
        verdict=series.reliable,
        cutoff=instrument.clinical_cutoff.value if instrument.clinical_cutoff else None,
        reliable_change=instrument.reliable_change.value if instrument.reliable_change else None,
        expected_header=header,
        expected_caption=caption,
    )


def _expected_cell(fitted: Fitted, point: Point) -> str:
    expected = fitted.by_response.get(point.response_id)
    if expected is None:
        return ""  # the intake score, or a follow-up check-in
    return f"{score_range(expected.lower, expected.upper)} (most likely {expected.middle:.0f})"
