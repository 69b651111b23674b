"""The clinic's expected-recovery band on the chart: drawn at the client's measured sessions, told
in words, in the table and in the PDF, and absent when the clinic has none or turned it off."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from reportlab.lib.pagesizes import A4

from alliance.accounts.models import ClinicSettings, clinic_settings
from alliance.charts.export import SCORE_HEADER
from alliance.charts.layout import EXPECTED, SERIES
from alliance.charts.pdf import MARGIN, _table
from alliance.charts.tests.test_chart_page import NS, _queries, add_scores, chart_url, images
from alliance.charts.tests.test_chart_page import pdf_text as pdf_of
from alliance.clients.models import Attendance, Encounter, EncounterKind, Episode
from alliance.trajectories import expected
from alliance.trajectories.models import TrajectoryFit
from conftest import World, scored_response, signed_in

pytestmark = pytest.mark.django_db

# Measured sessions 2-6 for an intake of 18: (lower, expected, upper).
ROWS_18 = [[12.2, 15.1, 18.3], [10.4, 13.2, 16.6], [8.1, 12.0, 15.7], [7.3, 11.1, 15.2]]
ROWS_18.append([6.0, 10.0, 14.0])
FITTED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HEADER = "Expected (10th-90th)"
SENTENCE = (
    "Expected range for clients of this clinic who started at 18: 8–16 by measured session 4 "
    "(10th to 90th percentile, most likely 12), fitted 20 Nov 2026 from 412 finished episodes."
)
SENTENCE_CELL = "8–16 (most likely 12)"


@pytest.fixture(autouse=True)
def fresh_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fits are cached per process by id, and a rolled-back test's ids come round again.
    monkeypatch.setattr(expected, "_loaded", {})


def fit(world: World, instrument: str = "phq9", *, use: bool = True) -> TrajectoryFit:
    stored = TrajectoryFit.objects.create(
        organisation=world.org,
        instrument_id=instrument,
        fitted_at=FITTED_AT,
        episodes=412,
        observations=2900,
        model={},
        bands={
            "sessions": [2, 3, 4, 5, 6],
            "lower_q": 0.1,
            "upper_q": 0.9,
            "rows": {"18": ROWS_18, "5": [[2.0, 4.0, 6.0]] * 5},
        },
    )
    settings = clinic_settings(world.org.pk)
    fits = {**settings.trajectory_fits, instrument: stored.pk}
    ClinicSettings.objects.filter(pk=settings.pk).update(trajectory_fits=fits, use_fitted_bands=use)
    return stored


def book(world: World, days: int, episode: Episode | None = None) -> Encounter:
    return Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=episode or world.own_episode,
        clinician=world.clinician,
        starts_at=timezone.now() + timedelta(days=days),
        kind=EncounterKind.THERAPY,
    )


def chart(world: World) -> tuple[str, ET.Element]:
    response = signed_in(world.clinician).get(chart_url(world.own_client))
    assert response.status_code == 200
    body = response.content.decode()
    return body, images(body)[0]


def shaded(image: ET.Element) -> list[ET.Element]:
    """The band's shade: a see-through polygon in a group with its words (the legend's swatch
    stands alone)."""
    return [
        p for g in image.iter(f"{NS}g") for p in g.findall(f"{NS}polygon") if p.get("fill-opacity")
    ]


def xs(points: str | None) -> list[float]:
    assert points
    return [float(pair.split(",")[0]) for pair in points.split()]


def pdf(world: World) -> str:
    response = signed_in(world.clinician).get(
        reverse("client_chart_pdf", args=[world.own_client.pk])
    )
    assert response.status_code == 200
    return pdf_of(response.content)


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_the_band_is_drawn_at_the_measured_sessions_and_told_in_words(world, instrument):
    fit(world, instrument)
    add_scores(world.own_episode, [18, 14, 12, 9], instrument=instrument)
    body, image = chart(world)
    desc = image.find(f"{NS}desc")
    assert desc is not None
    assert desc.text is not None
    assert SENTENCE in desc.text
    assert "This client's score there, 9, is within the expected range." in desc.text
    assert desc.text in html.unescape(body)  # under the image too
    (band,) = shaded(image)
    assert band.get("fill") == EXPECTED
    # The band's corners sit at the times of scores 2 to 4 (measured sessions 2 to 4), not at
    # evenly spaced sessions: the same x as the score dots.
    dots = [float(c.get("cx", "0")) for c in image.iter(f"{NS}circle") if c.get("fill") == SERIES]
    dots = dots[: len(dots) - 1]  # the last one is the legend's
    corners = xs(band.get("points"))
    assert corners[:3] == pytest.approx(dots[1:4])
    assert corners[3:] == pytest.approx(dots[1:4][::-1])
    groups = [g for g in image.iter(f"{NS}g") if g.find(f"{NS}polygon") is not None]
    titles = [g.findtext(f"{NS}title") or "" for g in groups]
    assert any(t.startswith(SENTENCE) for t in titles)  # the band's own words, as its title
    legend = [t.text for t in image.iter(f"{NS}text")]
    assert "expected range, 10th–90th percentile" in legend
    assert "expected score" in legend
    # The table: a column with each score's range; none at intake.
    assert f'<th scope="col">{HEADER}</th>' in body
    assert "fitted 20 Nov 2026 from 412 finished episodes</caption>" in body
    cells = re.findall(r"<td>(\d+–\d+ \(most likely \d+\)|—)</td></tr>", body)
    assert cells[:4] == ["—", "12–18 (most likely 15)", "10–17 (most likely 13)", SENTENCE_CELL]


def test_a_score_above_the_band_is_said_to_be(world):
    fit(world)
    add_scores(world.own_episode, [18, 17, 17])
    _, image = chart(world)
    assert (
        "This client's score there, 17, is above the expected range (its upper edge is 16.6)."
        in (image.findtext(f"{NS}desc") or "")
    )


def test_it_is_drawn_ahead_to_booked_sessions_up_to_the_plan(world):
    Episode.objects.filter(pk=world.own_episode.pk).update(planned_sessions=5)
    fit(world)
    add_scores(world.own_episode, [18, 14, 12])  # measured sessions 1 to 3
    book(world, 4)  # session 4
    book(world, 11)  # session 5
    book(world, 18)  # session 6: past the plan of 5, so not drawn
    past = book(world, -1)  # booked, already past: no score is coming, not drawn
    Encounter.objects.filter(pk=past.pk).update(attendance=Attendance.SCHEDULED)
    body, image = chart(world)
    (band,) = shaded(image)
    assert len(xs(band.get("points"))) == 2 * 4  # sessions 2 and 3, then 4 and 5 ahead
    desc = image.findtext(f"{NS}desc") or ""
    assert "The band is drawn ahead to the next 2 booked sessions (measured session 5: 7–15)." in (
        desc
    )
    # The table has only the scores measured.
    assert body.count("(most likely ") == 2


def test_a_finished_episode_is_not_drawn_ahead(world):
    Episode.objects.filter(pk=world.own_episode.pk).update(ended_on=timezone.localdate())
    fit(world)
    add_scores(world.own_episode, [18, 14, 12])
    book(world, 4)
    _, image = chart(world)
    (band,) = shaded(image)
    assert len(xs(band.get("points"))) == 2 * 2
    assert "drawn ahead" not in (image.findtext(f"{NS}desc") or "")


def test_a_follow_up_check_in_is_not_a_measured_session(world):
    fit(world)
    add_scores(world.own_episode, [18, 14])
    Episode.objects.filter(pk=world.own_episode.pk).update(ended_on=timezone.localdate())
    follow_up = book(world, -1)
    Encounter.objects.filter(pk=follow_up.pk).update(kind=EncounterKind.FOLLOW_UP)
    scored_response(
        world.own_episode, "phq9", 16, "moderately severe", timezone.now(), encounter=follow_up
    )
    body, image = chart(world)
    (band,) = shaded(image)
    assert len(xs(band.get("points"))) == 4  # session 2 alone, as a short bar; not the check-in
    assert "by measured session 2" in (image.findtext(f"{NS}desc") or "")
    assert body.count("(most likely ") == 1


def test_with_one_score_and_nothing_booked_it_says_when_the_band_appears(world):
    fit(world)
    add_scores(world.own_episode, [18])
    _, image = chart(world)
    assert shaded(image) == []
    desc = image.findtext(f"{NS}desc") or ""
    assert "The clinic's expected range is drawn from the second score on." in desc


def test_one_score_and_a_booked_session_shows_where_the_next_should_be(world):
    fit(world)
    add_scores(world.own_episode, [18])
    book(world, 3)
    body, image = chart(world)
    assert len(shaded(image)) == 1
    desc = image.findtext(f"{NS}desc") or ""
    assert "who started at 18: 12–18 by measured session 2" in desc
    assert HEADER not in body  # nothing measured against it yet


@pytest.mark.parametrize("case", ["turned off", "no fit", "another instrument", "intake not held"])
def test_without_a_band_for_the_series_nothing_changes(world, case):
    if case == "turned off":
        fit(world, use=False)
    elif case == "another instrument":
        fit(world, "gad7")
    elif case == "intake not held":
        fit(world)
    totals = [7, 6, 4] if case == "intake not held" else [18, 14, 12, 9]
    add_scores(world.own_episode, totals)
    body, image = chart(world)
    assert shaded(image) == []
    assert "expected" not in (image.findtext(f"{NS}desc") or "").lower()
    assert "expected range" not in [t.text for t in image.iter(f"{NS}text")]
    assert HEADER not in body
    assert "Expected range" not in body
    text = pdf(world)
    assert "Expected" not in text
    assert "/ca .16" not in text


def test_the_pdf_has_the_band_its_words_and_the_column(world):
    fit(world)
    add_scores(world.own_episode, [18, 14, 12, 9])
    text = pdf(world)
    assert "/ca .16" in text  # the see-through shade
    # The header wraps so the widened table keeps within the page's margins.
    assert r"(Expected) Tj T* (\(10th-90th\)) Tj" in text
    assert r"(12\22618 \(most likely 15\)) Tj" in text  # the en dash in WinAnsi
    joined = " ".join(re.findall(r"\((.*?)\) Tj", text))
    assert "Expected range for clients of this clinic who started at 18" in joined
    assert "fitted 20 Nov 2026 from 412 finished episodes" in joined


@pytest.mark.parametrize("route", ["client_chart", "client_chart_pdf"])
def test_the_band_costs_no_query_per_score_and_the_fit_is_read_once(world, route):
    fit(world)
    http = signed_in(world.clinician)
    url = reverse(route, args=[world.own_client.pk])
    add_scores(world.own_episode, [18, 14])
    add_scores(world.own_episode, [30, 34], instrument="alliance-session-check")
    _queries(http, url)  # the fit is read, and the clinic's chain head made
    few = _queries(http, url)
    with CaptureQueriesContext(connection) as ctx:
        http.get(url)
    assert not [q for q in ctx.captured_queries if "trajectoryfit" in q["sql"].lower()]
    add_scores(world.own_episode, [(n * 5) % 28 for n in range(18)])
    add_scores(world.own_episode, [20 + n for n in range(18)], instrument="alliance-session-check")
    assert _queries(http, url) == few


def test_the_widened_score_table_keeps_within_the_pdf_page():
    header = [*SCORE_HEADER, HEADER]
    row = ["13 Oct 2026", "18", "moderately severe", "-1", "no reliable change", "endorsed"]
    width = A4[0] - 2 * MARGIN
    table = _table(header, [[*row, "13–20 (most likely 17)"]], width)
    assert sum(table._colWidths) <= width


@pytest.mark.parametrize("route", ["client_chart", "client_chart_pdf"])
def test_the_responses_are_read_once_follow_ups_and_all(world, route):
    """The scores' one query also tells the follow-up check-ins apart: the band costs no second
    read of the responses, and no query at all once its fit has been read."""
    add_scores(world.own_episode, [18, 14, 12])
    Episode.objects.filter(pk=world.own_episode.pk).update(ended_on=timezone.localdate())
    follow_up = book(world, -1)
    Encounter.objects.filter(pk=follow_up.pk).update(kind=EncounterKind.FOLLOW_UP)
    scored_response(
        world.own_episode, "phq9", 16, "moderately severe", timezone.now(), encounter=follow_up
    )
    http = signed_in(world.clinician)
    url = reverse(route, args=[world.own_client.pk])
    _queries(http, url)  # the clinic's chain head made
    without_band = _queries(http, url)
    fit(world)
    _queries(http, url)  # the fit is read
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200
    reads = [q for q in ctx.captured_queries if 'FROM "measures_response"' in q["sql"]]
    assert len(reads) == 1, [q["sql"] for q in reads]
    assert len(ctx.captured_queries) == without_band
    if route == "client_chart":  # and the check-in is still left out of the measured sessions
        assert response.content.decode().count("(most likely ") == 2
