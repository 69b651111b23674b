"""In a real headless Chromium, on the demo clinic: the outcome report and the expected band.

What issue 8 asks to see in the demo: a coordinator (a role the clinic allows to run reports)
opens the outcome report from the navigation, sees small cells suppressed, and downloads it as CSV
and PDF; a clinician opens a not-on-track alert that cites the clinic's fitted band, and sees the
band on the client's chart. Pages are checked with axe-core as in test_browser_feedback; no
request leaves the server's origin. Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.test_browser_feedback import DESKTOP, Axe

pytestmark = pytest.mark.browser


def _sign_in(page: Any, live_server: Any, username: str) -> None:
    from alliance.demo.generate import DEMO_PASSWORD

    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("nav")


def _download(page: Any, link: str) -> tuple[str, bytes]:
    with page.expect_download() as downloading:
        page.get_by_role("link", name=link).click()
    download = downloading.value
    assert download.failure() is None
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_in_the_demo_the_report_is_downloaded_and_a_clinician_sees_the_fitted_band(
    committed_db: None, live_server: Any, open_page: Any, tmp_path: Path
) -> None:
    from django.utils import timezone

    from alliance.alerts.models import Alert
    from alliance.clients.models import CareTeamMember, Client
    from alliance.demo.generate import load_demo

    load_demo(seed=2026, clients=40)
    names = list(Client.objects.values_list("display_name", flat=True))
    axe = Axe()

    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "casey")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outcomes").click()
    page.wait_for_selector("h1:has-text('Outcome report')")
    today = timezone.localdate()
    page.get_by_label("From").fill((today - timedelta(days=60)).isoformat())
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_label("Group by").select_option("severity")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("td.suppressed")
    assert page.locator("td.suppressed").count() > 0  # the last two months: small groups
    page.screenshot(path=str(tmp_path / "outcome-report.png"), full_page=True)
    axe.check(page, "outcome report")

    filename, body = _download(page, "Download CSV")
    assert filename == "outcome-report.csv"
    text = body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert any("suppressed" in cell for row in rows for cell in row)
    assert not [n for n in names if n in text]  # de-identified: no client is named
    filename, body = _download(page, "Download PDF")
    assert filename == "outcome-report.pdf"
    assert body.startswith(b"%PDF-")

    alert = Alert.objects.filter(kind="not_on_track", facts__method="fitted").order_by("pk").first()
    assert alert is not None
    place = (
        CareTeamMember.objects.filter(client_id=alert.client_id, ended_at__isnull=True)
        .select_related("membership__user")
        .order_by("pk")
        .first()
    )
    assert place is not None
    page, foreign_too = open_page(**DESKTOP)
    _sign_in(page, live_server, place.membership.user.username)
    page.goto(f"{live_server.url}/alerts/{alert.pk}/")
    assert "band fitted" in page.locator("main").inner_text()
    axe.check(page, "alert citing the band")
    page.goto(f"{live_server.url}/clients/{alert.client_id}/chart/")
    page.wait_for_selector("text=expected range")
    page.screenshot(path=str(tmp_path / "chart-with-band.png"), full_page=True)
    axe.check(page, "chart with the band")

    assert foreign == []
    assert foreign_too == []
    axe.assert_clean()
