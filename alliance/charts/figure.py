"""What a chart shows (ChartSpec), the shapes it is drawn with (Scene), and its words.

No Django and no output format: layout.py turns a ChartSpec into a Scene of simple shapes,
svg.py writes a Scene as SVG and pdf.py draws the same Scene with reportlab, so the page and
the PDF cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

# --- what the caller gives ----------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    at: datetime
    value: int
    band: str = ""
    # Reliable change of this score against intake: "improved", "deteriorated" or "".
    reliable: str = ""


@dataclass(frozen=True)
class BandArea:
    """A severity band drawn from ``low`` to ``high`` on the score axis; level 0 is the mildest."""

    low: float
    high: float
    label: str
    level: int


@dataclass(frozen=True)
class RefLine:
    """A horizontal line such as the caseness cut-off; ``name`` is used in the description."""

    value: float
    label: str
    name: str
    colour: str = ""  # the layout's warning red unless given


@dataclass(frozen=True)
class Trace:
    """One of several lines on one panel, such as one goal's ratings."""

    label: str
    scores: tuple[Score, ...]


EventKind = Literal[
    "attended", "dna", "cancelled", "scheduled", "risk", "alert", "victory", "breakthrough"
]


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: EventKind
    label: str


@dataclass(frozen=True)
class Expected:
    """The clinic's expected range at one measured session, placed at that session's time."""

    at: datetime  # the score's time, or a booked session's for one ahead of the latest score
    session: int  # measured session: 1 is the intake score, so the first here is 2
    lower: float
    middle: float
    upper: float
    score: int | None = None  # the score measured there; None ahead of the latest


@dataclass(frozen=True)
class ExpectedBand:
    """The clinic's fitted expected-recovery band for this client's intake score."""

    intake: int
    points: tuple[Expected, ...]  # oldest first; drawn as one shaded band with its middle line
    lower_percentile: int  # 10
    upper_percentile: int  # 90
    fitted_on: date
    episodes: int  # finished episodes it was fitted from


@dataclass(frozen=True)
class ChartSpec:
    key: str  # used in element ids; anything but [a-z0-9-] is dropped
    name: str  # "PHQ-9"
    subject: str  # the client's display name, for the title
    start: datetime
    end: datetime
    y_min: int
    y_max: int
    scores: tuple[Score, ...] = ()
    bands: tuple[BandArea, ...] = ()
    lines: tuple[RefLine, ...] = ()
    verdict: str = ""  # reliable change of the latest score against intake
    sessions: tuple[Event, ...] = ()
    alerts: tuple[Event, ...] = ()
    compact: bool = False  # the alliance and goals panels: shorter, no bands
    # Several lines instead of ``scores`` (the goals panel); each is named in the legend.
    traces: tuple[Trace, ...] = ()
    moments: tuple[Event, ...] = ()  # small victories and breakthroughs, in a row of their own
    expected: ExpectedBand | None = None  # the clinic's expected range, when it has fitted one
    # Said when the clinic has a band that cannot be drawn yet (one score, nothing booked).
    expected_note: str = ""


# --- what the layout produces -----------------------------------------------------------------

Point = tuple[float, float]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str = ""


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1.0
    dash: tuple[float, ...] = ()


@dataclass(frozen=True)
class Path:
    """An open polyline, or a closed filled polygon when ``fill`` is set."""

    points: tuple[Point, ...]
    stroke: str = ""
    width: float = 1.0
    fill: str = ""
    dash: tuple[float, ...] = ()
    opacity: float = 1.0  # of the fill: a band laid over the severity bands lets them show


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str = ""
    stroke: str = ""
    width: float = 1.0
    dash: tuple[float, ...] = ()


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    size: float = 11
    anchor: Literal["start", "middle", "end"] = "start"
    fill: str = "#1d2430"
    bold: bool = False


Basic = Rect | Line | Path | Circle | Text


@dataclass(frozen=True)
class Mark:
    """Shapes that make one mark, with words for it: an SVG <title>, shown as a tooltip."""

    title: str
    shapes: tuple[Basic, ...]


Shape = Basic | Mark


@dataclass
class Scene:
    key: str
    width: float
    height: float
    title: str
    desc: str
    shapes: list[Shape] = field(default_factory=list)


# --- describing a chart in words ------------------------------------------------------------------


def day(at: date) -> str:
    """'3 Nov 2026', the same on every platform and locale."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{at.day} {months[at.month - 1]} {at.year}"


def _with_band(score: Score) -> str:
    return f"{score.value} ({score.band})" if score.band else str(score.value)


def describe(spec: ChartSpec) -> str:
    """One or a few sentences saying what the chart shows, for its <desc> and the image's alt."""
    if spec.traces:
        return _describe_traces(spec)
    scores = spec.scores
    if not scores:
        return f"No {spec.name} scores recorded in this episode."
    first, last = scores[0], scores[-1]
    if len(scores) == 1:
        parts = [f"{spec.name}: one score so far, {_with_band(first)} on {day(first.at)}."]
    else:
        sentence = (
            f"{spec.name} {_verb(first.value, last.value)} from {_with_band(first)} at intake "
            f"on {day(first.at)} to {_with_band(last)} on {day(last.at)}"
        )
        if spec.verdict == "improved":
            sentence += ": reliable improvement"
        elif spec.verdict == "deteriorated":
            sentence += ": reliable deterioration"
        elif spec.verdict:
            sentence += f": {spec.verdict}"
        parts = [sentence + f". {len(scores)} scores."]
    for line in spec.lines:
        where = "at or above" if last.value >= line.value else "below"
        parts.append(f"The latest is {where} the {line.name} of {number(line.value)}.")
    if spec.expected is not None and spec.expected.points:
        parts.append(describe_expected(spec.expected))
    elif spec.expected_note:
        parts.append(spec.expected_note)
    parts += _event_counts(spec)
    return " ".join(parts)


def ordinal(n: int) -> str:
    """'10th', '1st', '22nd', '90th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def score_range(lower: float, upper: float) -> str:
    """'8–15': a band's edges as whole scores, as the scores themselves are."""
    return f"{lower:.0f}–{upper:.0f}"


def percentiles(band: ExpectedBand) -> str:
    return f"{ordinal(band.lower_percentile)} to {ordinal(band.upper_percentile)} percentile"


def against(score: int, point: Expected) -> str:
    """Where a score sits against the range: 'above', 'below' or 'within'."""
    if score > point.upper:
        return "above"
    if score < point.lower:
        return "below"
    return "within"


def describe_expected(band: ExpectedBand) -> str:
    """The band in words: the range at the latest score (else the first session ahead), and
    where the latest score sits in it."""
    measured = [p for p in band.points if p.score is not None]
    ahead = [p for p in band.points if p.score is None]
    point = measured[-1] if measured else ahead[0]
    sentence = (
        f"Expected range for clients of this clinic who started at {band.intake}: "
        f"{score_range(point.lower, point.upper)} by measured session {point.session} "
        f"({percentiles(band)}, most likely {point.middle:.0f}), fitted {day(band.fitted_on)} "
        f"from {band.episodes} finished episodes."
    )
    if point.score is not None:
        where = against(point.score, point)
        # Shown whole, an edge of 15.7 reads "16", and a score of 16 is above it: say the edge.
        if where == "above":
            where += f" the expected range (its upper edge is {point.upper:.1f})"
        elif where == "below":
            where += f" the expected range (its lower edge is {point.lower:.1f})"
        else:
            where += " the expected range"
        sentence += f" This client's score there, {point.score}, is {where}."
    if ahead:
        booked = len(ahead)
        sentence += (
            f" The band is drawn ahead to the next {booked} booked session"
            f"{'' if booked == 1 else 's'} (measured session {ahead[-1].session}: "
            f"{score_range(ahead[-1].lower, ahead[-1].upper)})."
        )
    return sentence


def _verb(first: int, last: int) -> str:
    return "fell" if last < first else "rose" if last > first else "was unchanged"


def _describe_traces(spec: ChartSpec) -> str:
    rated = [t for t in spec.traces if t.scores]
    if not rated:
        return f"No {spec.name} recorded in this episode."
    parts = [f"{spec.name}:"]
    for trace in rated:
        first, last = trace.scores[0], trace.scores[-1]
        if len(trace.scores) == 1:
            parts.append(f"{trace.label}: one rating, {first.value} on {day(first.at)}.")
        else:
            parts.append(
                f"{trace.label} {_verb(first.value, last.value)} from {first.value} on "
                f"{day(first.at)} to {last.value} on {day(last.at)} ({len(trace.scores)} ratings)."
            )
    for line in spec.lines:
        at_or_above = sum(1 for t in rated if t.scores[-1].value >= line.value)
        parts.append(
            f"{at_or_above} of {len(rated)} at or above the {line.name} of "
            f"{number(line.value)} at the latest rating."
        )
    parts += _event_counts(spec)
    return " ".join(parts)


def _event_counts(spec: ChartSpec) -> list[str]:
    words = {
        "attended": "attended",
        "dna": "not attended",
        "cancelled": "cancelled",
        "scheduled": "booked",
    }
    counts = [
        f"{n} {words[kind]}"
        for kind in words
        if (n := sum(1 for e in spec.sessions if e.kind == kind))
    ]
    parts = [f"Sessions: {', '.join(counts)}."] if counts else []
    if spec.alerts:
        labels = "; ".join(f"{e.label} on {day(e.at)}" for e in spec.alerts)
        parts.append(f"Alerts: {labels}.")
    victories = sum(1 for e in spec.moments if e.kind == "victory")
    breakthroughs = len(spec.moments) - victories
    marked = [
        f"{victories} small victor{'y' if victories == 1 else 'ies'}" if victories else "",
        f"{breakthroughs} breakthrough{'' if breakthroughs == 1 else 's'}" if breakthroughs else "",
    ]
    if spec.moments:
        parts.append(f"Marked: {' and '.join(m for m in marked if m)}, listed below.")
    return parts


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
