"""Writes a chart as a standalone, accessible SVG document. Imports nothing from Django.

Every piece of text passes through ``_text`` or ``_attr``, which escape it, so a client's name
or an alert's reason can never become markup. The output has no script, no event handler, no
link and no style element (the page's CSP allows none of them inline); colours are given as
presentation attributes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from alliance.charts.figure import ChartSpec, Circle, Line, Mark, Path, Rect, Scene, Shape
from alliance.charts.layout import layout

FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"


def render_svg(spec: ChartSpec) -> str:
    return scene_svg(layout(spec))


def scene_svg(scene: Scene) -> str:
    ids = f"{scene.key}-title {scene.key}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(scene.width)} '
        f'{_n(scene.height)}" width="{_n(scene.width)}" height="{_n(scene.height)}" '
        f'role="img" aria-labelledby={_attr(ids)} font-family={_attr(FONT)}>'
    )
    parts = [
        head,
        f"<title id={_attr(scene.key + '-title')}>{_text(scene.title)}</title>",
        f"<desc id={_attr(scene.key + '-desc')}>{_text(scene.desc)}</desc>",
        *(_shape(shape) for shape in scene.shapes),
        "</svg>",
    ]
    return "\n".join(parts)


def _shape(shape: Shape) -> str:
    if isinstance(shape, Mark):
        # A group's <title> is its accessible name and a tooltip: the words for one mark.
        inner = "".join(_shape(part) for part in shape.shapes)
        return f"<g><title>{_text(shape.title)}</title>{inner}</g>"
    if isinstance(shape, Rect):
        return (
            f'<rect x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" '
            f'height="{_n(shape.h)}"{_paint(shape.fill, shape.stroke)}/>'
        )
    if isinstance(shape, Line):
        return (
            f'<line x1="{_n(shape.x1)}" y1="{_n(shape.y1)}" x2="{_n(shape.x2)}" '
            f'y2="{_n(shape.y2)}"{_paint("", shape.stroke, shape.width, shape.dash)}/>'
        )
    if isinstance(shape, Path):
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape.points)
        tag = "polygon" if shape.fill else "polyline"
        paint = _paint(shape.fill, shape.stroke, shape.width, shape.dash)
        if shape.fill and shape.opacity < 1:
            paint += f' fill-opacity="{_n(shape.opacity)}"'
        return f'<{tag} points="{points}"{paint} stroke-linejoin="round"/>'
    if isinstance(shape, Circle):
        paint = _paint(shape.fill, shape.stroke, shape.width, shape.dash)
        return f'<circle cx="{_n(shape.cx)}" cy="{_n(shape.cy)}" r="{_n(shape.r)}"{paint}/>'
    weight = ' font-weight="bold"' if shape.bold else ""
    return (
        f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-size="{_n(shape.size)}" '
        f'text-anchor="{shape.anchor}" fill={_attr(shape.fill)}{weight}>{_text(shape.text)}</text>'
    )


def _paint(fill: str, stroke: str, width: float = 1.0, dash: tuple[float, ...] = ()) -> str:
    out = f" fill={_attr(fill or 'none')}"
    if stroke:
        out += f" stroke={_attr(stroke)} stroke-width={_attr(_n(width))}"
    if dash:
        out += f" stroke-dasharray={_attr(' '.join(_n(d) for d in dash))}"
    return out


def _n(value: float) -> str:
    """Two decimals at most: enough for a 720-wide drawing, and short."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(value: str) -> str:
    return escape(value)


def _attr(value: str) -> str:
    return quoteattr(value)
