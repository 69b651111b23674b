"""The chart as a PDF: the same scenes as the page, drawn as vectors, then the tables.

Nothing here imports Django. Text reaches reportlab in two ways: plain strings for
drawString and table cells (never parsed), and Paragraphs, whose mini-markup is why every
Paragraph's text is escaped first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from alliance.charts.figure import Circle, Line, Mark, Path, Rect, Scene, Shape, Text

MARGIN = 16 * mm
BOLD = ("Helvetica-Bold", 9)  # a table's header
WRAP = 40  # a longer cell (a goal's or a moment's words) wraps, in a column sized to fit


@dataclass(frozen=True)
class Document:
    """Everything the PDF shows, as plain text and scenes."""

    client_name: str
    record_number: str
    episode_line: str
    generated: str
    scenes: Sequence[Scene]
    tables: Sequence[tuple[str, list[str], list[list[str]]]]  # caption, header, rows


def render_pdf(doc: Document) -> bytes:
    buffer = BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title="Client chart",  # no client name in the file's metadata
        # Uncompressed: with no images or embedded fonts the file stays small, and its text can be
        # searched by the tests that check no other client's name is in it.
        pageCompression=0,
        author="Alliance",
    )
    styles = getSampleStyleSheet()
    story: list[Any] = [
        Paragraph(escape(doc.client_name), styles["Title"]),
        Paragraph(
            f"Record {escape(doc.record_number)} · {escape(doc.episode_line)}", styles["Normal"]
        ),
        Spacer(1, 4 * mm),
    ]
    width = A4[0] - 2 * MARGIN
    for scene in doc.scenes:
        story.append(
            KeepTogether(
                [
                    Paragraph(escape(scene.title), styles["Heading3"]),
                    SceneFlowable(scene, width),
                    Paragraph(escape(scene.desc), styles["BodyText"]),
                    Spacer(1, 3 * mm),
                ]
            )
        )
    for caption, header, rows in doc.tables:
        story += [Paragraph(escape(caption), styles["Heading3"]), _table(header, rows, width)]
        story.append(Spacer(1, 4 * mm))

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#4f5b6b"))
        text = f"Alliance client chart · record {doc.record_number} · {doc.generated}"
        canvas.drawString(MARGIN, 10 * mm, text)
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"page {canvas.getPageNumber()}")
        canvas.restoreState()

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]], width: float) -> Table:
    wraps = {i for row in rows for i, cell in enumerate(row) if len(cell) > WRAP}
    style = ParagraphStyle("cell", fontName="Helvetica", fontSize=9, leading=11)
    body = [
        [Paragraph(escape(cell), style) if i in wraps else cell for i, cell in enumerate(row)]
        for row in rows
    ]
    widths: list[float] | None = None
    head: list[Any] = list(header)
    if not wraps and sum(_natural(header, rows)) > width:
        # Too wide on one line (the expected range's column): the headers wrap between words.
        bold = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=9, leading=11)
        head = [Paragraph(escape(h), bold) for h in header]
        words = [max(h.split(), key=lambda w: stringWidth(w, *BOLD), default="") for h in header]
        widths = _natural(words, rows)
    if wraps:
        # Short columns as wide as their longest cell; the wrapping ones share what is left.
        natural = _natural(header, rows)
        fixed = sum(w for i, w in enumerate(natural) if i not in wraps)
        share = max((width - fixed) / len(wraps), 80)
        widths = [share if i in wraps else w for i, w in enumerate(natural)]
    table = Table([head, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        [
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
            ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.HexColor("#d5dbe3")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    return table


def _natural(header: list[str], rows: list[list[str]]) -> list[float]:
    """Each column's width with its header (or the header's longest word) and cells on one
    line."""
    return [
        max(
            [
                stringWidth(header[i], "Helvetica-Bold", 9),
                *(stringWidth(row[i], "Helvetica", 9) for row in rows),
            ]
        )
        + 12
        for i in range(len(header))
    ]


class SceneFlowable(Flowable):
    """Draws a Scene scaled to the frame's width; the scene's y axis points down."""

    def __init__(self, scene: Scene, width: float) -> None:
        super().__init__()
        self.scene = scene
        self.scale = width / scene.width
        self.width = width
        self.height = scene.height * self.scale

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        # Flip once so every shape can use the scene's own coordinates.
        canvas.translate(0, self.height)
        canvas.scale(self.scale, -self.scale)
        for shape in self.scene.shapes:
            _draw(canvas, shape)
        canvas.restoreState()


def _colour(value: str) -> Any:
    return colors.HexColor(value)


def _pen(canvas: Any, stroke: str, width: float, dash: tuple[float, ...]) -> None:
    if stroke:
        canvas.setStrokeColor(_colour(stroke))
    canvas.setLineWidth(width)
    canvas.setDash(list(dash) if dash else [])


def _draw(canvas: Any, shape: Shape) -> None:
    if isinstance(shape, Mark):
        for part in shape.shapes:  # its words are in the table after the charts
            _draw(canvas, part)
    elif isinstance(shape, Rect):
        _pen(canvas, shape.stroke, 1, ())
        if shape.fill:
            canvas.setFillColor(_colour(shape.fill))
        canvas.rect(
            shape.x,
            shape.y,
            shape.w,
            shape.h,
            stroke=int(bool(shape.stroke)),
            fill=int(bool(shape.fill)),
        )
    elif isinstance(shape, Line):
        _pen(canvas, shape.stroke, shape.width, shape.dash)
        canvas.line(shape.x1, shape.y1, shape.x2, shape.y2)
    elif isinstance(shape, Path):
        _pen(canvas, shape.stroke, shape.width, shape.dash)
        path = canvas.beginPath()
        path.moveTo(*shape.points[0])
        for point in shape.points[1:]:
            path.lineTo(*point)
        if shape.fill:
            path.close()
            canvas.setFillColor(_colour(shape.fill))
        paint = {"stroke": int(bool(shape.stroke)), "fill": int(bool(shape.fill))}
        if shape.fill and shape.opacity < 1:
            canvas.saveState()
            canvas.setFillAlpha(shape.opacity)  # a see-through band over the severity bands
            canvas.drawPath(path, **paint)
            canvas.restoreState()
        else:
            canvas.drawPath(path, **paint)
    elif isinstance(shape, Circle):
        _pen(canvas, shape.stroke, shape.width, shape.dash)
        if shape.fill:
            canvas.setFillColor(_colour(shape.fill))
        canvas.circle(
            shape.cx, shape.cy, shape.r, stroke=int(bool(shape.stroke)), fill=int(bool(shape.fill))
        )
    else:
        _text(canvas, shape)


def _text(canvas: Any, text: Text) -> None:
    canvas.saveState()
    canvas.translate(text.x, text.y)
    canvas.scale(1, -1)  # undo the flip, or the letters would stand on their heads
    canvas.setFont("Helvetica-Bold" if text.bold else "Helvetica", text.size)
    canvas.setFillColor(_colour(text.fill))
    draw = {
        "start": canvas.drawString,
        "middle": canvas.drawCentredString,
        "end": canvas.drawRightString,
    }[text.anchor]
    draw(0, 0, text.text)
    canvas.restoreState()
