"""The SVG renderer on its own: valid, described truthfully, escaped, and right where it draws."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from alliance.charts.figure import (
    BandArea,
    ChartSpec,
    Event,
    RefLine,
    Score,
    describe,
)
from alliance.charts.layout import BAND_FILLS
from alliance.charts.svg import render_svg

NS = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
PHQ9_BANDS = (
    BandArea(0, 5, "minimal 0–4", 0),
    BandArea(5, 10, "mild 5–9", 1),
    BandArea(10, 15, "moderate 10–14", 2),
    BandArea(15, 20, "moderately severe 15–19", 3),
    BandArea(20, 27, "severe 20–27", 4),
)
CASENESS = RefLine(10, "caseness: 10 or more", "caseness cut-off")
HOSTILE = '<script>alert(1)</script> & "quotes" <img src=x onerror=alert(2)>'


def phq9(totals: list[int], **changes: object) -> ChartSpec:
    bands = {0: "minimal", 5: "mild", 10: "moderate", 15: "moderately severe", 20: "severe"}
    scores = []
    for i, total in enumerate(totals):
        band = bands[max(edge for edge in bands if edge <= total)]
        reliable = "improved" if i and totals[0] - total >= 6 else ""
        scores.append(Score(START + timedelta(weeks=i), total, band, reliable))
    fields: dict[str, object] = {
        "key": "chart-phq9",
        "name": "PHQ-9",
        "subject": "Alex Example",
        "start": START,
        "end": START + timedelta(weeks=max(len(totals) - 1, 1)),
        "y_min": 0,
        "y_max": 27,
        "scores": tuple(scores),
        "bands": PHQ9_BANDS,
        "lines": (CASENESS,),
        "verdict": "improved" if len(totals) > 1 and totals[0] - totals[-1] >= 6 else "",
    }
    fields.update(changes)
    return ChartSpec(**fields)  # type: ignore[arg-type]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output


def plot_frame(root: ET.Element) -> tuple[float, float]:
    """The plot area's top and height, read from the white rectangle drawn first."""
    rect = root.find(f"{NS}rect")
    assert rect is not None
    return float(rect.get("y", "0")), float(rect.get("height", "0"))


def test_it_is_valid_svg_labelled_by_its_title_and_description():
    root = parse(render_svg(phq9([18, 15, 12, 9])))
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "PHQ-9 scores over time for Alex Example"


def test_the_description_tells_the_change_in_words():
    spec = phq9([18, 15, 12, 9], end=START + timedelta(weeks=3))
    text = describe(spec)
    assert text.startswith(
        "PHQ-9 fell from 18 (moderately severe) at intake on 1 Sep 2026 "
        "to 9 (mild) on 22 Sep 2026: reliable improvement. 4 scores."
    )
    assert "The latest is below the caseness cut-off of 10." in text
    desc = parse(render_svg(spec)).find(f"{NS}desc")
    assert desc is not None
    assert desc.text == text


def test_the_description_says_when_scores_rise_or_do_not_move():
    worse = describe(phq9([8, 16], verdict="deteriorated"))
    assert "rose from 8 (mild) at intake" in worse
    assert "reliable deterioration" in worse
    assert "at or above the caseness cut-off of 10" in worse
    assert "was unchanged from 12" in describe(phq9([12, 12], verdict="no reliable change"))


def test_it_escapes_every_piece_of_text():
    spec = phq9(
        [18, 9],
        subject=HOSTILE,
        bands=(BandArea(0, 27, HOSTILE, 0),),
        alerts=(Event(START, "risk", HOSTILE),),
        sessions=(Event(START, "attended", HOSTILE),),
    )
    svg = render_svg(spec)
    assert "<script" not in svg
    assert "<img" not in svg
    root = parse(svg)
    title = root.find(f"{NS}title")
    assert title is not None
    assert title.text is not None
    assert HOSTILE in title.text
    for element in root.iter():
        assert element.tag.removeprefix(NS) not in {"script", "foreignObject", "a", "style"}
        assert not any(name.lower().startswith("on") for name in element.attrib)
        assert "style" not in element.attrib  # the page's CSP refuses inline styles


def test_band_rectangles_sit_between_their_edges():
    root = parse(render_svg(phq9([18, 9])))
    top, height = plot_frame(root)
    mild = [r for r in root.iter(f"{NS}rect") if r.get("fill") == BAND_FILLS[1]]
    assert len(mild) == 1
    # Mild runs from 5 up to the cut-point 10 on a 0-27 axis.
    expected_top = top + height * (27 - 10) / 27
    expected_height = height * 5 / 27
    assert abs(float(mild[0].get("y", "0")) - expected_top) < 0.01
    assert abs(float(mild[0].get("height", "0")) - expected_height) < 0.01
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "mild 5–9" in labels
    assert "moderately severe 15–19" in labels


def test_the_caseness_line_is_dashed_at_the_cut_off_and_labelled():
    root = parse(render_svg(phq9([18, 9])))
    top, height = plot_frame(root)
    dashed = [
        line
        for line in root.iter(f"{NS}line")
        if line.get("stroke-dasharray") and line.get("x2") != line.get("x1")
    ]
    at_ten = top + height * (27 - 10) / 27
    assert any(abs(float(line.get("y1", "0")) - at_ten) < 0.01 for line in dashed)
    assert "caseness: 10 or more" in [t.text for t in root.iter(f"{NS}text")]


def test_reliable_change_is_marked_by_a_ring_and_named_in_the_legend():
    root = parse(render_svg(phq9([18, 15, 11, 9])))
    rings = [c for c in root.iter(f"{NS}circle") if c.get("r") == "8"]
    assert len(rings) == 2  # 11 and 9 are each 6 or more below intake
    assert "reliable improvement" in [t.text for t in root.iter(f"{NS}text")]


def test_sessions_and_alerts_have_shapes_named_in_the_legend():
    spec = phq9(
        [18, 9],
        sessions=(
            Event(START, "attended", "Therapy session, attended"),
            Event(START + timedelta(days=3), "dna", "Therapy session, did not attend"),
        ),
        alerts=(Event(START + timedelta(days=2), "risk", "Risk item endorsed (open)"),),
    )
    root = parse(render_svg(spec))
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert {"attended", "did not attend", "risk alert"} <= set(labels)
    assert root.find(f"{NS}polygon") is not None  # the risk triangle
    desc = root.find(f"{NS}desc")
    assert desc is not None
    assert desc.text is not None
    assert "Sessions: 1 attended, 1 not attended." in desc.text
    assert "Risk item endorsed (open) on 3 Sep 2026" in desc.text


def test_no_scores_draws_a_message_instead_of_a_chart():
    root = parse(render_svg(phq9([])))
    assert root.find(f"{NS}polyline") is None
    assert [t.text for t in root.iter(f"{NS}text")] == ["No PHQ-9 scores in this episode yet."]
    desc = root.find(f"{NS}desc")
    assert desc is not None
    assert desc.text == "No PHQ-9 scores recorded in this episode."


def test_one_score_is_a_point_without_a_line():
    spec = phq9([14], end=START)
    root = parse(render_svg(spec))
    assert root.find(f"{NS}polyline") is None
    markers = [c for c in root.iter(f"{NS}circle") if c.get("r") == "4"]
    assert len(markers) == 2  # the score, and the score's mark in the legend
    assert describe(spec).startswith("PHQ-9: one score so far, 14 (moderate) on 1 Sep 2026.")


def test_many_scores_draw_one_line_without_crowded_labels():
    totals = [(i * 7) % 28 for i in range(150)]
    svg = render_svg(phq9(totals))
    root = parse(svg)
    line = root.find(f"{NS}polyline")
    assert line is not None
    assert len(line.get("points", "").split()) == 150
    values = {str(t) for t in totals}
    value_labels = [t for t in root.iter(f"{NS}text") if t.text in values]
    assert len(value_labels) < 15  # axis numbers only; no label per score
    assert len(svg) < 100_000


def test_scores_on_the_same_date_do_not_break_the_scales():
    scores = tuple(Score(START, total, "") for total in (12, 14, 15))
    spec = phq9([], scores=scores, start=START, end=START)
    root = parse(render_svg(spec))
    line = root.find(f"{NS}polyline")
    assert line is not None
    xs = {point.split(",")[0] for point in line.get("points", "").split()}
    assert len(xs) == 1
    assert "nan" not in render_svg(spec).lower()


def test_the_alliance_panel_is_compact_and_has_its_floor():
    scores = tuple(Score(START + timedelta(weeks=i), t) for i, t in enumerate([28, 34, 36]))
    spec = phq9(
        [],
        scores=scores,
        key="chart-alliance",
        name="Alliance session check",
        y_max=40,
        bands=(),
        lines=(RefLine(30, "rupture: below 30", "clinic's rupture floor"),),
        verdict="",
        compact=True,
    )
    root = parse(render_svg(spec))
    assert float(root.get("height", "0")) < float(
        parse(render_svg(phq9([18, 9]))).get("height", "0")
    )
    desc = root.find(f"{NS}desc")
    assert desc is not None
    assert desc.text is not None
    assert desc.text.startswith("Alliance session check rose from 28 at intake")
    assert "at or above the clinic's rupture floor of 30" in desc.text


def test_element_ids_are_made_safe():
    root = parse(render_svg(phq9([18, 9], key='x" onload="alert(1)')))
    title = root.find(f"{NS}title")
    assert title is not None
    assert title.get("id") == "xonloadalert1-title"


def test_a_band_label_moves_clear_of_a_cut_off_inside_its_band():
    gad7_like = phq9(
        [12, 9],
        y_max=21,
        bands=(BandArea(0, 5, "minimal 0–4", 0), BandArea(5, 10, "mild 5–9", 1)),
        lines=(RefLine(8, "caseness: 8 or more", "caseness cut-off"),),
    )
    texts = {t.text: float(t.get("y", "0")) for t in parse(render_svg(gad7_like)).iter(f"{NS}text")}
    assert abs(texts["mild 5–9"] - texts["caseness: 8 or more"]) >= 12
