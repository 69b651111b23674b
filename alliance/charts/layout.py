"""Where each mark of a chart goes: a ChartSpec laid out as a Scene, 720 wide, y pointing down."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alliance.charts.figure import (
    Basic,
    ChartSpec,
    Circle,
    Event,
    ExpectedBand,
    Line,
    Mark,
    Path,
    Rect,
    Scene,
    Shape,
    Text,
    day,
    describe,
    describe_expected,
    number,
    ordinal,
)

# --- colours: each text colour has at least 4.5:1 contrast on every fill it sits on -------------

INK = "#1d2430"
MUTED = "#4f5b6b"
FRAME = "#8793a3"
SERIES = "#1f5f8b"
GOOD = "#1e6b3a"
BAD = "#a3242a"
WARN = "#8a5300"
# Light enough that ink and the series colour stay readable on every band.
BAND_FILLS = ("#eef6f0", "#f7f5e6", "#fcf0e0", "#fbe7e0", "#f7dede", "#f3d7e2")
# One per line on a many-line panel, each with its own dash and marker (see _trace_style), so
# no line is told from another by colour alone.
TRACE_COLOURS = ("#1f5f8b", "#8a5300", "#6a3d9a", "#0f6e6e", "#7a2e5a", "#4f5b6b")
TRACE_DASHES: tuple[tuple[float, ...], ...] = ((), (6, 3), (2, 2), (8, 3, 2, 3))
VICTORY = GOOD
BREAKTHROUGH = "#6a3d9a"
# The clinic's expected range: a see-through shade (the severity bands show through it) edged in
# teal, 6:1 on white, with its middle dashed, so it is told from the solid score line by shape.
EXPECTED = "#0f6e6e"
EXPECTED_SHADE = 0.16

WIDTH = 720.0
LEFT, RIGHT, TOP = 44.0, 150.0, 30.0
PLOT_W = WIDTH - LEFT - RIGHT


# --- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """The plot area and the two scales."""

    top: float
    bottom: float
    start: datetime
    end: datetime
    y_min: float
    y_max: float

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        return LEFT + (at - self.start).total_seconds() / span * PLOT_W

    def y(self, value: float) -> float:
        share = (value - self.y_min) / (self.y_max - self.y_min)
        return self.bottom - share * (self.bottom - self.top)


def safe_key(key: str) -> str:
    cleaned = "".join(c for c in key.lower() if c.isascii() and (c.isalnum() or c == "-"))
    return cleaned or "chart"


def layout(spec: ChartSpec) -> Scene:
    title = f"{spec.name} scores over time for {spec.subject}"
    if spec.compact:
        title = f"{spec.name} over time for {spec.subject}"
    scene = Scene(safe_key(spec.key), WIDTH, 0, title, describe(spec))
    if not spec.scores and not any(t.scores for t in spec.traces):
        scene.height = 90
        scene.shapes += [
            Rect(0.5, 0.5, WIDTH - 1, 89, "#ffffff", FRAME),
            Text(WIDTH / 2, 50, f"No {spec.name} scores in this episode yet.", 14, "middle", MUTED),
        ]
        return scene
    frame = _frame(spec, bottom=(230.0 if spec.compact else 310.0) - 96)
    legend = _legend_rows(_legend_entries(spec))
    # Below the plot: dates, the sessions row, the moments row if any, then the legend's rows.
    moments_row = 24 if spec.moments else 0
    legend_bottom = frame.bottom + 84 + moments_row + 18 * max(0, len(legend) - 2)
    scene.height = legend_bottom + 12
    draw = scene.shapes
    draw.append(Rect(LEFT, frame.top, PLOT_W, frame.bottom - frame.top, "#ffffff"))
    draw += _bands(spec, frame)
    draw += _y_axis(frame)
    draw += _expected(spec.expected, frame)
    draw.append(Rect(LEFT, frame.top, PLOT_W, frame.bottom - frame.top, "", FRAME))
    draw += _ref_lines(spec, frame)
    draw += _traces(spec, frame) if spec.traces else _series(spec, frame)
    draw += _x_axis(frame)
    draw += _sessions(spec, frame)
    draw += _moments(spec, frame)
    draw += _alerts(spec, frame)
    draw += _place_legend(legend, legend_bottom)
    return scene


def _frame(spec: ChartSpec, bottom: float) -> _Frame:
    start, end = spec.start, spec.end
    times = [s.at for s in spec.scores] + [s.at for t in spec.traces for s in t.scores]
    times += [e.at for e in spec.sessions + spec.alerts + spec.moments]
    start, end = min([start, *times]), max([end, *times])
    if end - start < timedelta(days=1):
        # One day or less (one score, or all on the same day): give it room on both sides.
        middle = start + (end - start) / 2
        start, end = middle - timedelta(days=1), middle + timedelta(days=1)
    else:
        pad = (end - start) * 0.03  # keep the first and last marks off the frame
        start, end = start - pad, end + pad
    y_min, y_max = float(spec.y_min), float(spec.y_max)
    if y_max <= y_min:
        y_max = y_min + 1
    return _Frame(TOP, bottom, start, end, y_min, y_max)


def _bands(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = []
    avoid = [frame.y(line.value) for line in spec.lines if frame.y_min <= line.value <= frame.y_max]
    for band in spec.bands:
        low, high = max(band.low, frame.y_min), min(band.high, frame.y_max)
        if high <= low:
            continue
        top, bottom = frame.y(high), frame.y(low)
        fill = BAND_FILLS[min(max(band.level, 0), len(BAND_FILLS) - 1)]
        shapes.append(Rect(LEFT, top, PLOT_W, bottom - top, fill))
        shapes.append(Line(LEFT, top, LEFT + PLOT_W, top, "#d5dbe3"))
        label_y = _label_y(top, bottom, avoid)
        shapes.append(Text(LEFT + PLOT_W + 8, label_y + 4, band.label, 11, "start", INK))
    return shapes


def _label_y(top: float, bottom: float, avoid: list[float]) -> float:
    """The band's middle, unless a line's label sits there: then the middle of a clear part."""
    inside = [y for y in avoid if top < y < bottom]
    candidates = [(top + bottom) / 2]
    candidates += [(top + y) / 2 for y in inside] + [(y + bottom) / 2 for y in inside]

    def clearance(y: float) -> float:
        return min((abs(y - a) for a in avoid), default=math.inf)

    clear = [y for y in candidates if clearance(y) >= 12]
    return clear[0] if clear else max(candidates, key=clearance)


def _expected(band: ExpectedBand | None, frame: _Frame) -> list[Shape]:
    """The shaded range with its edges and dashed middle, at the measured sessions' times."""
    if band is None or not band.points:
        return []

    def y(value: float) -> float:
        return frame.y(min(max(value, frame.y_min), frame.y_max))

    xs = [frame.x(p.at) for p in band.points]
    points = list(band.points)
    if len(points) == 1:
        # One session: a short bar across its time rather than a band of no width.
        xs = [xs[0] - 7, xs[0] + 7]
        points *= 2
    upper = tuple((x, y(p.upper)) for x, p in zip(xs, points, strict=True))
    lower = tuple((x, y(p.lower)) for x, p in zip(xs, points, strict=True))
    middle = tuple((x, y(p.middle)) for x, p in zip(xs, points, strict=True))
    shapes: tuple[Basic, ...] = (
        Path(upper + lower[::-1], fill=EXPECTED, opacity=EXPECTED_SHADE),
        Path(upper, EXPECTED, 1),
        Path(lower, EXPECTED, 1),
        Path(middle, EXPECTED, 1.75, dash=(5, 3)),
    )
    return [Mark(describe_expected(band), shapes)]


def _y_axis(frame: _Frame) -> list[Shape]:
    span = frame.y_max - frame.y_min
    step = next((s for s in (1, 2, 5, 10, 20, 25, 50, 100) if span / s <= 6), math.ceil(span / 6))
    shapes: list[Shape] = []
    value = math.ceil(frame.y_min / step) * step
    while value <= frame.y_max:
        y = frame.y(value)
        shapes.append(Line(LEFT - 4, y, LEFT, y, FRAME))
        shapes.append(Text(LEFT - 7, y + 4, number(value), 11, "end", MUTED))
        value += step
    return shapes


def _ref_lines(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = []
    for line in spec.lines:
        if not frame.y_min <= line.value <= frame.y_max:
            continue
        y = frame.y(line.value)
        colour = line.colour or BAD
        shapes.append(Line(LEFT, y, LEFT + PLOT_W, y, colour, 1.5, (6, 4)))
        # In the margin beside its line, where no score can sit on it.
        shapes.append(Text(LEFT + PLOT_W + 8, y + 4, line.label, 10, "start", colour, bold=True))
    return shapes


def _series(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    many = len(spec.scores) > 40
    points = tuple((frame.x(s.at), frame.y(s.value)) for s in spec.scores)
    shapes: list[Shape] = []
    if len(points) > 1:
        shapes.append(Path(points, SERIES, 1.5 if many else 2.5))
    for score, (x, y) in zip(spec.scores, points, strict=True):
        if score.reliable in {"improved", "deteriorated"}:
            colour = GOOD if score.reliable == "improved" else BAD
            # Solid ring for improvement, dashed for deterioration: the shape, not only the colour.
            dash = () if score.reliable == "improved" else (3.0, 2.0)
            shapes.append(Circle(x, y, 8, stroke=colour, width=2, dash=dash))
        shapes.append(Circle(x, y, 2.5 if many else 4, fill=SERIES, stroke="#ffffff", width=1))
    if len(points) <= 16:
        for score, (x, y) in zip(spec.scores, points, strict=True):
            lift = 12 if score.reliable in {"improved", "deteriorated"} else 8
            shapes.append(Text(x, y - lift, str(score.value), 11, "middle", INK, bold=True))
    return shapes


def _trace_style(index: int) -> tuple[str, tuple[float, ...]]:
    return TRACE_COLOURS[index % len(TRACE_COLOURS)], TRACE_DASHES[index % len(TRACE_DASHES)]


def _trace_marker(index: int, x: float, y: float, colour: str) -> list[Basic]:
    """A circle, square, diamond or triangle, by the line's place in the legend."""
    shape = index % 4
    if shape == 0:
        return [Circle(x, y, 4, fill=colour, stroke="#ffffff", width=1)]
    if shape == 1:
        return [Rect(x - 3.5, y - 3.5, 7, 7, colour, "#ffffff")]
    if shape == 2:
        return [Path(((x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)), "#ffffff", fill=colour)]
    return [Path(((x, y - 5), (x + 5, y + 4), (x - 5, y + 4)), "#ffffff", fill=colour)]


def _traces(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = []
    for index, trace in enumerate(spec.traces):
        colour, dash = _trace_style(index)
        points = tuple((frame.x(s.at), frame.y(s.value)) for s in trace.scores)
        if len(points) > 1:
            shapes.append(Path(points, colour, 2, dash=dash))
        for score, (x, y) in zip(trace.scores, points, strict=True):
            words = f"{trace.label}: {score.value} on {day(score.at)}"
            shapes.append(Mark(words, tuple(_trace_marker(index, x, y, colour))))
    return shapes


def _ticks(start: datetime, end: datetime) -> list[datetime]:
    """Midnights spread across the range, at most seven, on whole-day steps."""
    days = max((end - start).days, 1)
    step = next((s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365) if days / s <= 6), 365)
    first = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ticks = []
    at = first
    while at <= end:
        ticks.append(at)
        at += timedelta(days=step)
    return ticks


def _x_axis(frame: _Frame) -> list[Shape]:
    shapes: list[Shape] = []
    for at in _ticks(frame.start, frame.end):
        x = frame.x(at)
        shapes.append(Line(x, frame.bottom, x, frame.bottom + 4, FRAME))
        label = f"{at.day} {day(at).split()[1]}"
        shapes.append(Text(x, frame.bottom + 17, label, 11, "middle", MUTED))
    return shapes


def _sessions(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    y = frame.bottom + 38
    shapes: list[Shape] = [
        Line(LEFT, y, LEFT + PLOT_W, y, "#d5dbe3"),
        Text(LEFT + PLOT_W + 8, y + 4, "sessions", 11, "start", MUTED),
    ]
    for event in spec.sessions:
        shapes += _session_mark(event.kind, frame.x(event.at), y)
    return shapes


def _session_mark(kind: str, x: float, y: float) -> list[Basic]:
    if kind == "attended":
        return [Line(x, y - 7, x, y + 7, INK, 2.5)]
    if kind == "dna":
        return [
            Line(x - 5, y - 5, x + 5, y + 5, BAD, 2.5),
            Line(x - 5, y + 5, x + 5, y - 5, BAD, 2.5),
        ]
    if kind == "cancelled":
        return [Circle(x, y, 4.5, fill="#ffffff", stroke=MUTED, width=1.5)]
    return [Rect(x - 4, y - 4, 8, 8, "#ffffff", MUTED)]  # booked, not yet held


def _moments(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    if not spec.moments:
        return []
    y = frame.bottom + 62
    shapes: list[Shape] = [
        Line(LEFT, y, LEFT + PLOT_W, y, "#d5dbe3"),
        Text(LEFT + PLOT_W + 8, y + 4, "moments", 11, "start", MUTED),
    ]
    for event in spec.moments:
        shapes.append(_moment_mark(event, frame.x(event.at), y))
    return shapes


def _moment_mark(event: Event, x: float, y: float) -> Mark:
    """A star for a small victory, an upward arrow for a breakthrough; the words as its title."""
    return Mark(event.label, tuple(_moment_shapes(event.kind, x, y)))


def _moment_shapes(kind: str, x: float, y: float) -> list[Basic]:
    if kind == "victory":
        star = tuple(
            (
                x + (7 if i % 2 == 0 else 3) * math.sin(i * math.pi / 5),
                y - (7 if i % 2 == 0 else 3) * math.cos(i * math.pi / 5),
            )
            for i in range(10)
        )
        return [Path(star, VICTORY, fill=VICTORY)]
    arrow = (
        (x, y - 8),
        (x + 6, y - 1),
        (x + 2.5, y - 1),
        (x + 2.5, y + 7),
        (x - 2.5, y + 7),
        (x - 2.5, y - 1),
        (x - 6, y - 1),
    )
    return [Path(arrow, BREAKTHROUGH, fill=BREAKTHROUGH)]


def _alerts(spec: ChartSpec, frame: _Frame) -> list[Shape]:
    y = frame.top - 8
    shapes: list[Shape] = []
    for event in spec.alerts:
        shapes += _alert_mark(event.kind, frame.x(event.at), y)
    return shapes


def _alert_mark(kind: str, x: float, y: float) -> list[Basic]:
    if kind == "risk":
        triangle = ((x, y - 10), (x + 7, y + 3), (x - 7, y + 3))
        return [
            Path(triangle, fill=BAD, stroke=BAD),
            Text(x, y + 1.5, "!", 9, "middle", "#ffffff", True),
        ]
    diamond = ((x, y - 8), (x + 6, y - 2), (x, y + 4), (x - 6, y - 2))
    return [Path(diamond, fill=WARN, stroke=WARN)]


Entry = tuple[str, Sequence[Basic]]
LegendRow = list[tuple[float, str, Sequence[Basic]]]


def _legend_entries(spec: ChartSpec) -> list[Entry]:
    """A key naming only the marks this chart uses, so no mark relies on colour alone."""
    entries: list[Entry] = [] if spec.traces else [("score", _legend_score())]
    if spec.expected is not None and spec.expected.points:
        entries += _legend_expected(spec.expected)
    for index, trace in enumerate(spec.traces):
        colour, dash = _trace_style(index)
        stroke = Line(0, -4, 16, -4, colour, 2, dash)
        entries.append((trace.label, [stroke, *_trace_marker(index, 8, -4, colour)]))
    reliable = {s.reliable for s in spec.scores} - {""}
    if "improved" in reliable:
        entries.append(("reliable improvement", [Circle(6, -4, 6, stroke=GOOD, width=2)]))
    if "deteriorated" in reliable:
        ring = Circle(6, -4, 6, stroke=BAD, width=2, dash=(3.0, 2.0))
        entries.append(("reliable deterioration", [ring]))
    for line in spec.lines:
        entries.append((line.label, [Line(0, -4, 16, -4, line.colour or BAD, 1.5, (6, 4))]))
    kinds = {e.kind for e in spec.sessions + spec.alerts + spec.moments}
    names = {
        "attended": "attended",
        "dna": "did not attend",
        "cancelled": "cancelled",
        "scheduled": "booked",
        "risk": "risk alert",
        "alert": "other alert",
        "victory": "small victory",
        "breakthrough": "breakthrough",
    }
    for kind, name in names.items():
        if kind in kinds:
            entries.append((name, _legend_mark(kind)))
    return entries


def _legend_mark(kind: str) -> list[Basic]:
    if kind in {"attended", "dna", "cancelled", "scheduled"}:
        return _session_mark(kind, 6, -4)
    if kind in {"victory", "breakthrough"}:
        return _moment_shapes(kind, 8, -4)
    return _alert_mark(kind, 6, -2)


def _legend_expected(band: ExpectedBand) -> list[Entry]:
    low, high = ordinal(band.lower_percentile), ordinal(band.upper_percentile)
    swatch = ((0.0, -10.0), (16.0, -10.0), (16.0, 2.0), (0.0, 2.0))
    shade: list[Basic] = [
        Path(swatch, fill=EXPECTED, opacity=EXPECTED_SHADE),
        Line(0, -10, 16, -10, EXPECTED),
        Line(0, 2, 16, 2, EXPECTED),
    ]
    return [
        (f"expected range, {low}–{high} percentile", shade),
        ("expected score", [Line(0, -4, 16, -4, EXPECTED, 1.75, (5, 3))]),
    ]


def _legend_score() -> list[Basic]:
    return [Line(0, -4, 16, -4, SERIES, 2.5), Circle(8, -4, 4, fill=SERIES, stroke="#ffffff")]


def _legend_rows(entries: Sequence[Entry]) -> list[LegendRow]:
    rows: list[LegendRow] = [[]]
    x = LEFT
    for label, mark in entries:
        width = 22 + len(label) * 6.2 + 18  # an estimate of the text's width at 11px
        if x + width > WIDTH - 8 and rows[-1]:
            rows.append([])
            x = LEFT
        rows[-1].append((x, label, mark))
        x += width
    return rows


def _place_legend(rows: Sequence[LegendRow], bottom: float) -> list[Shape]:
    shapes: list[Shape] = []
    for index, row in enumerate(rows):
        y = bottom - (len(rows) - 1 - index) * 18
        for x, label, mark in row:
            shapes += [_moved(shape, x, y) for shape in mark]
            shapes.append(Text(x + 22, y, label, 11, "start", INK))
    return shapes


def _moved(shape: Basic, dx: float, dy: float) -> Basic:
    if isinstance(shape, Line):
        return replace(
            shape, x1=shape.x1 + dx, y1=shape.y1 + dy, x2=shape.x2 + dx, y2=shape.y2 + dy
        )
    if isinstance(shape, Circle):
        return replace(shape, cx=shape.cx + dx, cy=shape.cy + dy)
    if isinstance(shape, Path):
        return replace(shape, points=tuple((px + dx, py + dy) for px, py in shape.points))
    return replace(shape, x=shape.x + dx, y=shape.y + dy)
