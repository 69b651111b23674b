"""The chart page and its PDF: who sees them, what they show, and a fixed number of queries."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.audit.models import AuditEntry
from alliance.clients.models import Client, Episode, Phase
from conftest import scored_response, signed_in

pytestmark = pytest.mark.django_db

NS = "{http://www.w3.org/2000/svg}"
PHQ9_BANDS = [
    (20, "severe"),
    (15, "moderately severe"),
    (10, "moderate"),
    (5, "mild"),
    (0, "minimal"),
]


def add_scores(episode: Episode, totals: list[int], instrument: str = "phq9") -> None:
    start = timezone.now() - timedelta(weeks=len(totals))
    for i, total in enumerate(totals):
        band = (
            next(name for edge, name in PHQ9_BANDS if total >= edge) if instrument == "phq9" else ""
        )
        scored_response(episode, instrument, total, band, start + timedelta(weeks=i))


def chart_url(client: Client, **query: int) -> str:
    url = reverse("client_chart", args=[client.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def images(body: str) -> list[ET.Element]:
    found = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', body)
    return [ET.fromstring(base64.b64decode(data)) for data in found]  # noqa: S314


def pdf_text(content: bytes) -> str:
    # The PDF is written uncompressed, so its text operators can be read directly.
    return content.decode("latin-1")


def test_the_charts_app_is_installed():
    assert "alliance.charts" in settings.INSTALLED_APPS, (
        "add 'alliance.charts' to INSTALLED_APPS, or its templates and stylesheet are not found"
    )


def test_it_shows_the_care_team_a_chart_per_measure_and_the_same_data_as_tables(world):
    add_scores(world.own_episode, [18, 14, 12, 9])
    add_scores(world.own_episode, [30, 34, 36], instrument="alliance-session-check")
    response = signed_in(world.clinician).get(chart_url(world.own_client))
    assert response.status_code == 200
    body = response.content.decode()
    phq9, alliance = images(body)
    desc = phq9.find(f"{NS}desc")
    assert desc is not None
    assert desc.text is not None
    assert desc.text.startswith("PHQ-9 fell from 18 (moderately severe) at intake")
    assert ": reliable improvement." in desc.text
    assert desc.text in body  # the same words under the image, for everyone
    alliance_title = alliance.find(f"{NS}title")
    assert alliance_title is not None
    assert alliance_title.text is not None
    assert alliance_title.text.startswith("Alliance session check over time")
    assert "<caption>PHQ-9: 4 scores, improved since intake" in body
    assert "<td>moderately severe</td>" in body
    assert "<td>-9</td>" in body  # 9 against intake 18
    assert reverse("client_chart_pdf", args=[world.own_client.pk]) in body


def test_the_client_page_links_to_the_chart(world):
    add_scores(world.own_episode, [12])
    body = signed_in(world.clinician).get(reverse("client", args=[world.own_client.pk]))
    assert chart_url(world.own_client) in body.content.decode()


def test_reading_the_chart_is_audited(world):
    signed_in(world.clinician).get(chart_url(world.own_client))
    assert AuditEntry.objects.filter(
        action="chart.view", client_id=world.own_client.pk, outcome="ok"
    ).exists()


def test_a_clinician_off_the_care_team_is_told_not_found(world):
    add_scores(world.own_episode, [18, 9])
    for url in (
        chart_url(world.own_client),
        reverse("client_chart_pdf", args=[world.own_client.pk]),
    ):
        response = signed_in(world.colleague).get(url)
        assert response.status_code == 404
        assert world.own_client.display_name.encode() not in response.content
    assert AuditEntry.objects.filter(action="chart.view", outcome="denied").exists()


def test_another_clients_episode_cannot_be_chosen(world):
    response = signed_in(world.clinician).get(
        chart_url(world.own_client, episode=world.other_team_episode.pk)
    )
    assert response.status_code == 404


def test_a_closed_episode_can_be_chosen(world):
    add_scores(world.own_episode, [18, 9])
    old = Episode.objects.create(
        organisation=world.org,
        client=world.own_client,
        opened_on=date.today() - timedelta(weeks=60),
        closed_on=date.today() - timedelta(weeks=40),
        phase=Phase.CLOSED,
    )
    add_scores(old, [21, 20])
    http = signed_in(world.clinician)
    body = http.get(chart_url(world.own_client, episode=old.pk)).content.decode()
    assert "PHQ-9 fell from 21 (severe)" in body
    assert 'aria-current="page"' in body
    assert "PHQ-9 fell from 18" in http.get(chart_url(world.own_client)).content.decode()


def test_an_episode_without_scores_says_so(world):
    body = signed_in(world.clinician).get(chart_url(world.own_client)).content.decode()
    assert "No scores in this episode yet." in body
    assert images(body) == []


def test_a_hostile_name_stays_text_on_the_page_in_the_image_and_in_the_pdf(world):
    hostile = "<script>alert(1)</script>"
    Client.objects.filter(pk=world.own_client.pk).update(display_name=hostile)
    add_scores(world.own_episode, [18, 9])
    http = signed_in(world.clinician)
    body = http.get(chart_url(world.own_client)).content.decode()
    assert hostile not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    (image,) = images(body)
    assert [e for e in image.iter() if e.tag.removeprefix(NS) == "script"] == []
    title = image.find(f"{NS}title")
    assert title is not None
    assert title.text is not None
    assert hostile in title.text
    pdf = http.get(reverse("client_chart_pdf", args=[world.own_client.pk]))
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert "(script) Tj" in text  # drawn as letters, in pieces
    assert r"(alert\(1\)) Tj" in text


def test_the_pdf_is_an_attachment_named_without_the_client(world):
    add_scores(world.own_episode, [18, 14, 9])
    response = signed_in(world.clinician).get(
        reverse("client_chart_pdf", args=[world.own_client.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="chart.pdf"'
    assert response["Cache-Control"] == "no-store"
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    text = pdf_text(response.content)
    assert world.own_client.record_number in text
    assert world.own_client.display_name in text
    assert "PHQ-9 scores" in text
    assert AuditEntry.objects.filter(action="chart.export", client_id=world.own_client.pk).exists()


def _queries(http, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("route", ["client_chart", "client_chart_pdf"])
def test_the_number_of_queries_does_not_grow_with_the_scores(world, route):
    http = signed_in(world.clinician)
    url = reverse(route, args=[world.own_client.pk])
    add_scores(world.own_episode, [18, 9])
    add_scores(world.own_episode, [30, 34], instrument="alliance-session-check")
    _queries(http, url)  # the first audit entry of a clinic also creates its chain head
    few = _queries(http, url)
    add_scores(world.own_episode, [(n * 5) % 28 for n in range(18)])
    add_scores(world.own_episode, [20 + n for n in range(18)], instrument="alliance-session-check")
    assert _queries(http, url) == few


def test_only_a_reliable_change_is_ringed_on_the_chart(world):
    add_scores(world.own_episode, [12, 13, 18])  # +1 is no reliable change; +6 is
    body = signed_in(world.clinician).get(chart_url(world.own_client)).content.decode()
    (image,) = images(body)
    rings = [c for c in image.iter(f"{NS}circle") if c.get("r") == "8"]
    assert len(rings) == 1
    assert rings[0].get("stroke-dasharray")  # deterioration is the dashed ring
    assert "<td>no reliable change</td>" in body
