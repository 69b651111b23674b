"""The outcome report as a PDF: its three tables on landscape A4, with the suppression rule and
the stories beside them. Every text reaches reportlab as a plain table cell or as an escaped
Paragraph."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from alliance.reports.report import Report, sections

MARGIN = 14 * mm


def render_pdf(report: Report, *, clinic: str, generated: str, stories: list[str]) -> bytes:
    buffer = BytesIO()
    page = landscape(A4)
    template = SimpleDocTemplate(
        buffer,
        pagesize=page,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title="Outcome report",
        author="Alliance",
        pageCompression=0,  # small without images; its text stays searchable by the tests
    )
    styles = getSampleStyleSheet()
    q = report.query
    story: list[Any] = [
        Paragraph(escape(f"Outcome report: {clinic}"), styles["Title"]),
        Paragraph(
            escape(
                f"{q.start.isoformat()} to {q.end.isoformat()} · by "
                f"{report.group_label.lower()} · {report.measure_label}"
            ),
            styles["Normal"],
        ),
        Paragraph(
            escape(
                "De-identified: any count of 1 to 10 people is suppressed, and so is any figure "
                "from which one could be worked out. "
                f"{report.hidden} counts are suppressed here."
            ),
            styles["BodyText"],
        ),
        Spacer(1, 4 * mm),
    ]
    if not report.episodes_seen:
        story.append(Paragraph("No episode was opened or ended in this period.", styles["Normal"]))
    for title, header, rows in sections(report):
        story += [Paragraph(escape(title), styles["Heading3"]), _table(header, rows)]
        story.append(Spacer(1, 4 * mm))
    if stories:
        story.append(Paragraph("In clients' words (shared with their consent)", styles["Heading3"]))
        quote = ParagraphStyle("quote", parent=styles["BodyText"], leftIndent=6 * mm)
        story += [Paragraph(escape(f"\u201c{text}\u201d"), quote) for text in stories]

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#4f5b6b"))
        canvas.drawString(MARGIN, 8 * mm, f"Alliance outcome report · {generated}")
        canvas.drawRightString(page[0] - MARGIN, 8 * mm, f"page {canvas.getPageNumber()}")
        canvas.restoreState()

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]]) -> Table:
    head_style = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=8, leading=10)
    first = ParagraphStyle("first", fontName="Helvetica", fontSize=8, leading=10)
    body = [[Paragraph(escape(row[0]), first), *row[1:]] for row in rows]
    heading = [Paragraph(escape(h), head_style) for h in header]
    widths = [60 * mm] + [(landscape(A4)[0] - 2 * MARGIN - 60 * mm) / (len(header) - 1)] * (
        len(header) - 1
    )
    table = Table([heading, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        [
            ("FONT", (1, 1), (-1, -1), "Helvetica", 8),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.HexColor("#d5dbe3")),
            ("FONT", (1, -1), (-1, -1), "Helvetica-Bold", 8),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    return table
