"""In a real headless Chromium: sign in, see the caseload, open a client; nothing off-origin."""

from __future__ import annotations

import pyotp
import pytest

from conftest import ADMIN_TOTP_SECRET, PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_clinician_signs_in_and_opens_a_client_from_the_caseload(
    open_page, live_world, live_server, artifacts
):
    page, foreign = open_page()
    _sign_in(page, live_server, "clinician")
    page.wait_for_selector("h1:has-text('Caseload')")
    row_link = page.get_by_role("rowheader").get_by_role("link", name="Canary Own-Bluebird")
    assert row_link.is_visible()
    assert page.locator("text=Canary Far-Heron").count() == 0
    page.screenshot(path=str(artifacts / "caseload.png"), full_page=True)
    page.get_by_role("rowheader").get_by_role("link", name="Canary Own-Bluebird").click()
    page.wait_for_selector("h2:has-text('Care team')")
    page.screenshot(path=str(artifacts / "client.png"), full_page=True)
    assert foreign == []


def test_an_admin_signs_in_with_a_code_and_sees_users_not_clients(
    open_page, live_world, live_server, artifacts
):
    page, foreign = open_page()
    _sign_in(page, live_server, "orgadmin")
    page.wait_for_selector("h1:has-text('Enter your code')")
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(ADMIN_TOTP_SECRET).now())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("h1:has-text('Users')")
    body = page.content()
    assert "Canary" not in body
    page.screenshot(path=str(artifacts / "admin-users.png"), full_page=True)
    assert foreign == []


def test_the_caseload_reads_on_a_phone(open_page, live_world, live_server, artifacts):
    page, _ = open_page(viewport={"width": 390, "height": 844})
    _sign_in(page, live_server, "clinician")
    page.wait_for_selector("h1:has-text('Caseload')")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
    page.screenshot(path=str(artifacts / "caseload-phone.png"), full_page=True)


def test_an_admin_without_two_factor_enrols_by_scanning_the_code(
    open_page, live_world, live_server, artifacts
):
    from alliance.accounts.models import User

    User.objects.filter(pk=live_world.admin.user_id).update(totp_secret="", totp_confirmed_at=None)
    page, foreign = open_page()
    _sign_in(page, live_server, "orgadmin")
    page.wait_for_selector("h1:has-text('Two-factor sign-in')")
    qr = page.get_by_alt_text("QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the code really renders
    page.screenshot(path=str(artifacts / "admin-enrol.png"), full_page=True)
    secret = page.locator("code").inner_text()
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_selector("h1:has-text('Users')")
    assert User.objects.get(pk=live_world.admin.user_id).has_totp
    assert foreign == []
