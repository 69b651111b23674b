"""The wellbeing trend as a small accessible SVG, drawn with the charts app's shapes and writer.

Four lines on a 0-10 scale, each with its own colour and dash so they part without colour; the
<title> and <desc> (and the table beside it on the page) say the same in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alliance.charts.figure import Circle, Line, Path, Rect, Scene, Text
from alliance.charts.layout import FRAME, INK, MUTED
from alliance.charts.svg import scene_svg

WIDTH, HEIGHT = 560.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 34.0, 150.0, 16.0, 36.0


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]
    colour: str
    dash: tuple[float, ...]


@dataclass(frozen=True)
class Point:
    """One check-in, as the chart needs it."""

    at_label: str
    energy: int
    load: int
    meaning: int
    support: int


def series_of(points: Sequence[Point]) -> list[Series]:
    return [
        Series("Energy", tuple(p.energy for p in points), "#1f5f8b", ()),
        Series("Emotional load", tuple(p.load for p in points), "#a3242a", (6, 3)),
        Series("Meaning", tuple(p.meaning for p in points), "#1e6b3a", (2, 3)),
        Series("Support", tuple(p.support for p in points), "#8a5300", (8, 3, 2, 3)),
    ]


def describe(points: Sequence[Point]) -> str:
    if not points:
        return "No check-ins yet."
    parts = [f"{len(points)} check-in{'s' if len(points) != 1 else ''}, scored 0 to 10."]
    for s in series_of(points):
        first, last = s.values[0], s.values[-1]
        move = "rose" if last > first else "fell" if last < first else "stayed"
        parts.append(
            f"{s.name} {move} from {first} to {last}."
            if move != "stayed"
            else f"{s.name} stayed at {last}."
        )
    return " ".join(parts)


def trend_scene(points: Sequence[Point]) -> Scene:
    scene = Scene("wellbeing", WIDTH, HEIGHT, "Your wellbeing check-ins", describe(points))
    right = WIDTH - RIGHT
    bottom = HEIGHT - BOTTOM

    def y(value: float) -> float:
        return bottom - value / 10 * (bottom - TOP)

    scene.shapes.append(Rect(0.5, 0.5, WIDTH - 1, HEIGHT - 1, "#ffffff", FRAME))
    for value in (0, 5, 10):
        scene.shapes += [
            Line(LEFT, y(value), right, y(value), FRAME, 0.5, () if value == 0 else (2, 3)),
            Text(LEFT - 6, y(value) + 4, str(value), 10, "end", MUTED),
        ]
    if not points:
        scene.shapes.append(
            Text((LEFT + right) / 2, HEIGHT / 2, "No check-ins yet.", 13, "middle", MUTED)
        )
        return scene
    step = (right - LEFT) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step if len(points) > 1 else (LEFT + right) / 2

    scene.shapes += [
        Text(x(0), bottom + 18, points[0].at_label, 10, "start", MUTED),
        Text(x(len(points) - 1), bottom + 18, points[-1].at_label, 10, "end", MUTED),
    ]
    for row, s in enumerate(series_of(points)):
        xy = tuple((x(i), y(v)) for i, v in enumerate(s.values))
        if len(xy) > 1:
            scene.shapes.append(Path(xy, s.colour, 2, "", s.dash))
        scene.shapes += [Circle(px, py, 3, s.colour) for px, py in xy]
        legend_y = TOP + 12 + row * 20
        scene.shapes += [
            Line(right + 12, legend_y - 4, right + 36, legend_y - 4, s.colour, 2, s.dash),
            Text(right + 42, legend_y, f"{s.name}: {s.values[-1]}", 11, "start", INK),
        ]
    return scene


def trend_svg(points: Sequence[Point]) -> str:
    return scene_svg(trend_scene(points))
