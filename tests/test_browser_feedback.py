"""In a real headless Chromium: a client answers on a phone, a clinician follows up the alert.

Every page a client or clinician sees here is checked with axe-core (vendored in
tests/vendor/axe-core, never fetched); serious and critical violations fail the test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import PASSWORD, World

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
CRISIS = "Call the Riverbend crisis line on 0800 000 0000"
PHQ9_ITEMS = 9
GAD7_ITEMS = 7
QUESTIONS = PHQ9_ITEMS + GAD7_ITEMS  # PHQ-9's "how difficult" question is optional


# --- helpers --------------------------------------------------------------------------------


class Axe:
    """Runs axe-core on pages and keeps the serious and critical violations it finds.

    Violations are collected, not raised at once, so one run reports every page it saw;
    `assert_clean` at the end of the test fails listing each (page, id, impact, help, nodes).
    """

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, page: Any, where: str) -> list[dict[str, Any]]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Evaluated, not added as a <script>: the app's CSP allows no inline script, and
            # its pages must be checked with that CSP in force.
            page.evaluate(AXE.read_text(encoding="utf-8"))
        violations: list[dict[str, Any]] = page.evaluate(
            """async () => {
                const result = await axe.run(document, {resultTypes: ["violations"]});
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map(n => n.target.join(" ")),
                }));
            }"""
        )
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        for v in serious:
            self.found.append(
                f"{where}: {v['id']} ({v['impact']}) {v['help']} -> {', '.join(v['nodes'])}"
            )
        return serious

    def assert_clean(self) -> None:
        assert not self.found, "axe found serious/critical violations:\n" + "\n".join(self.found)


def _sign_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Caseload')")


def _prepare(world: World) -> None:
    """No alerts from the world's fixtures, and crisis contacts we can recognise."""
    from alliance.accounts.models import clinic_settings
    from alliance.alerts.models import Alert

    Alert.objects.all().delete()
    clinic = clinic_settings(world.org.pk)
    clinic.crisis_contacts = CRISIS
    clinic.save()


def _new_link(world: World) -> tuple[Any, str]:
    from alliance.measures.actions import do_create_link

    return do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )


def _answers(item9: int = 0) -> dict[str, dict[str, int]]:
    phq9 = {f"item{n}": 0 for n in range(1, PHQ9_ITEMS + 1)}
    phq9["item9"] = item9
    return {"phq9": phq9, "gad7": {f"item{n}": 0 for n in range(1, GAD7_ITEMS + 1)}}


def _tap(page: Any, instrument: str, item: str, label: str) -> None:
    """Taps an answer's label, as a client's finger would."""
    page.locator(f"#q-{instrument}__{item} label.option", has_text=label).tap()


def _below_the_screen(page: Any, selector: str) -> int:
    """How far (CSS px) the element's top is below the bottom of the screen; 0 if on it."""
    return int(
        page.eval_on_selector(
            selector,
            "el => Math.max(0, Math.round(el.getBoundingClientRect().top - window.innerHeight))",
        )
    )


def _send(page: Any, status: int) -> None:
    """Taps "Send my answers" and checks the status of the answer the server gave."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Send my answers").tap()
    got = posted.value
    assert got.status == status, (
        f"sending the answers got HTTP {got.status}, not {status}: {got.text()[:300]!r}"
    )
    page.wait_for_load_state("load")  # the page's deferred script has run


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


# --- the client, on a phone -----------------------------------------------------------------


def test_a_client_on_a_phone_answers_and_sees_the_crisis_contacts_at_once(
    open_page, live_world, live_server, artifacts
):
    from alliance.alerts.models import Alert, Kind, Status
    from alliance.measures.models import Response

    _prepare(live_world)
    link, token = _new_link(live_world)
    axe = Axe()
    page, foreign = open_page(**PHONE)
    page.goto(f"{live_server.url}/m/{token}/")
    page.wait_for_selector("h1:has-text('Before your session')")
    progress = page.locator("#progress-text")
    crisis = page.locator("#crisis")
    assert progress.inner_text() == f"0 of {QUESTIONS} questions answered"
    assert crisis.is_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    heights = page.locator("label.option").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44  # answers are large enough to tap
    axe.check(page, "questionnaire, nothing answered (phone)")
    page.screenshot(path=str(artifacts / "client-phone-1-form.png"), full_page=True)

    # Keyboard: the first answer is one Tab away, Space chooses it, the arrows move the choice.
    page.keyboard.press("Tab")
    first_group = page.locator("#q-phq9__item1 input[type=radio]")
    assert first_group.nth(0).evaluate("el => el === document.activeElement")
    page.keyboard.press("Space")
    assert first_group.nth(0).is_checked()
    assert progress.inner_text() == f"1 of {QUESTIONS} questions answered"
    page.keyboard.press("ArrowDown")
    assert first_group.nth(1).is_checked()  # "Several days"
    assert not first_group.nth(0).is_checked()
    assert first_group.nth(1).evaluate("el => el === document.activeElement")
    assert progress.inner_text() == f"1 of {QUESTIONS} questions answered"

    for n in range(2, PHQ9_ITEMS):
        _tap(page, "phq9", f"item{n}", "Not at all")
    assert progress.inner_text() == f"{PHQ9_ITEMS - 1} of {QUESTIONS} questions answered"
    assert crisis.is_hidden()

    # Item 9 above zero: the clinic's crisis contacts show at once, before anything is sent.
    _tap(page, "phq9", "item9", "Several days")
    crisis.wait_for(state="visible", timeout=2_000)
    assert CRISIS in crisis.inner_text()
    crisis_below = _below_the_screen(page, "#crisis")  # checked at the end: see below
    assert progress.inner_text() == f"{PHQ9_ITEMS} of {QUESTIONS} questions answered"
    page.screenshot(path=str(artifacts / "client-phone-2-item9-viewport.png"))
    page.screenshot(path=str(artifacts / "client-phone-3-crisis-shown.png"), full_page=True)
    axe.check(page, "questionnaire, item 9 answered, crisis contacts shown (phone)")

    for n in range(1, GAD7_ITEMS + 1):
        _tap(page, "gad7", f"item{n}", "Not at all")
    assert progress.inner_text() == (f"All {QUESTIONS} questions answered: you can send them now")
    axe.check(page, "questionnaire, all answered (phone)")
    assert Response.objects.count() == 0  # nothing is stored before sending

    _send(page, 200)
    page.wait_for_selector("h1:has-text('Thank you')")
    assert "Your answers are with your care team" in page.inner_text("main")
    thanks_crisis = page.locator("#crisis")
    assert thanks_crisis.is_visible()
    assert CRISIS in thanks_crisis.inner_text()
    axe.check(page, "thank-you page with crisis contacts (phone)")
    page.screenshot(path=str(artifacts / "client-phone-4-thanks.png"), full_page=True)

    stored = {r.instrument_id: r for r in Response.objects.filter(link=link)}
    assert set(stored) == {"phq9", "gad7"}
    assert stored["phq9"].answers["item9"] == 1
    assert stored["phq9"].answers["item1"] == 1  # the arrow key's choice, not the first
    assert Alert.objects.filter(
        client=live_world.own_client, kind=Kind.RISK, status=Status.OPEN
    ).exists()
    assert foreign == []
    axe.assert_clean()
    # "Shown" must mean seen: on a phone the box has to come up on the screen the client is
    # looking at when they answer item 9, not at the foot of the form.
    assert crisis_below == 0, (
        f"after item 9 was answered the crisis contacts were shown {crisis_below}px below "
        "the bottom of the phone's screen (at the end of the form), out of the client's sight"
    )


def test_a_client_who_misses_a_question_is_told_and_keeps_their_answers(
    open_page, live_world, live_server, artifacts
):
    from alliance.measures.models import MeasureLink, Response

    _prepare(live_world)
    link, token = _new_link(live_world)
    axe = Axe()
    page, foreign = open_page(**PHONE)
    page.goto(f"{live_server.url}/m/{token}/")
    page.wait_for_selector("h1:has-text('Before your session')")
    for n in range(1, PHQ9_ITEMS):
        _tap(page, "phq9", f"item{n}", "Not at all")
    _tap(page, "phq9", "item9", "Several days")
    for n in range(1, GAD7_ITEMS):  # the last GAD-7 question is left unanswered
        _tap(page, "gad7", f"item{n}", "More than half the days")
    _send(page, 400)

    errors = page.locator("#form-errors")
    errors.wait_for(state="visible")
    assert errors.get_attribute("role") == "alert"  # announced
    assert "1 question still needs an answer" in errors.inner_text()
    # The summary links straight to the missed question.
    assert errors.get_by_role("link").get_attribute("href") == "#q-gad7__item7"
    assert _focused_id(page) == "form-errors"  # and focused, so a screen reader starts there
    missed = page.locator("#q-gad7__item7")
    assert "invalid" in (missed.get_attribute("class") or "")
    assert "Please choose an answer to this question." in missed.inner_text()
    described_by = missed.get_attribute("aria-describedby")
    assert described_by == "err-gad7__item7"
    assert page.locator(f"#{described_by}").count() == 1
    assert page.locator(".question.invalid").count() == 1
    # The answers given are still chosen, and the crisis contacts still shown.
    assert page.locator("#q-phq9__item9").get_by_label("Several days").is_checked()
    assert page.locator("#q-gad7__item6").get_by_label("More than half the days").is_checked()
    assert page.locator("#q-phq9__item1").get_by_label("Not at all").is_checked()
    assert page.locator("#crisis").is_visible()
    assert CRISIS in page.locator("#crisis").inner_text()
    assert page.locator("#progress-text").inner_text() == (
        f"{QUESTIONS - 1} of {QUESTIONS} questions answered"
    )
    # Nothing stored, and the link still open.
    assert Response.objects.count() == 0
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None
    page.screenshot(path=str(artifacts / "client-phone-5-missed-question.png"), full_page=True)
    page.screenshot(path=str(artifacts / "client-phone-5-missed-question-viewport.png"))
    axe.check(page, "questionnaire with a missed question (phone)")

    _tap(page, "gad7", "item7", "Not at all")
    _send(page, 200)
    page.wait_for_selector("h1:has-text('Thank you')")
    assert Response.objects.filter(link=link).count() == 2
    assert foreign == []
    axe.assert_clean()


def test_a_used_or_expired_link_says_so_kindly(open_page, live_world, live_server, artifacts):
    from datetime import timedelta

    from django.utils import timezone

    from alliance.measures.actions import submit
    from alliance.measures.models import MeasureLink

    _prepare(live_world)
    axe = Axe()
    page, foreign = open_page(**PHONE)

    _, used = _new_link(live_world)
    submit(used, _answers())
    page.goto(f"{live_server.url}/m/{used}/")
    page.wait_for_selector("h1:has-text('Already done, thank you')")
    assert "Nothing more is needed" in page.inner_text("main")
    assert page.locator("form").count() == 0
    axe.check(page, "link already used (phone)")
    page.screenshot(path=str(artifacts / "client-phone-6-already-done.png"), full_page=True)

    expired_link, expired = _new_link(live_world)
    MeasureLink.objects.filter(pk=expired_link.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = page.goto(f"{live_server.url}/m/{expired}/")
    assert response is not None
    assert response.status == 410
    page.wait_for_selector("h1:has-text('This link has expired')")
    text = page.inner_text("main")
    assert "ask your therapist for a new one" in text
    assert page.locator("form").count() == 0
    axe.check(page, "link expired (phone)")
    page.screenshot(path=str(artifacts / "client-phone-7-expired.png"), full_page=True)
    assert foreign == []
    axe.assert_clean()


# --- the clinician, at a desk ---------------------------------------------------------------


def test_a_clinician_sees_the_risk_alert_and_follows_it_up(
    open_page, live_world, live_server, artifacts
):
    from alliance.alerts.models import Alert, Kind, Status
    from alliance.measures.actions import submit

    _prepare(live_world)
    _, token = _new_link(live_world)
    submit(token, _answers(item9=1))
    alert = Alert.objects.get(kind=Kind.RISK)
    client = live_world.own_client
    axe = Axe()
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "clinician")

    # The banner on the caseload names the client and links to the alert.
    banner = page.locator(".risk-banner")
    assert banner.is_visible()
    assert banner.get_attribute("role") == "alert"
    banner_link = banner.get_by_role("link", name=client.display_name)
    assert banner_link.get_attribute("href") == f"/alerts/{alert.pk}/"
    axe.check(page, "caseload with risk banner (desktop)")
    page.screenshot(path=str(artifacts / "clinician-1-caseload-banner.png"), full_page=True)

    page.get_by_role("rowheader").get_by_role("link", name=client.display_name).click()
    page.wait_for_selector("h2:has-text('Care team')")
    assert page.locator(".risk-banner").is_visible()  # on every page while open
    axe.check(page, "client page (desktop)")
    page.screenshot(path=str(artifacts / "clinician-2-client.png"), full_page=True)

    page.locator(".risk-banner").get_by_role("link", name=client.display_name).click()
    page.wait_for_selector("h2:has-text('Why it fired')")
    reason = page.locator(".reason").inner_text()
    # Why, in numbers: which item, the answer's score and label, and the threshold.
    assert "PHQ-9 item 9" in reason
    assert "answered 1" in reason
    assert "Several days" in reason
    assert "above 0" in reason
    assert page.locator(".alert-status").inner_text() == "Open"
    axe.check(page, "risk alert, open (desktop)")
    page.screenshot(path=str(artifacts / "clinician-3-alert-open.png"), full_page=True)

    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector("text=Acknowledged. Resolve it once you have followed it up.")
    assert page.locator(".alert-status").inner_text() == "Acknowledged"
    assert page.locator(".risk-banner").count() == 0
    page.get_by_role("link", name="Caseload").click()
    page.wait_for_selector("h1:has-text('Caseload')")
    assert page.locator(".risk-banner").count() == 0  # gone from the next page too
    page.go_back()
    page.wait_for_selector("h2:has-text('Why it fired')")
    page.reload()  # pages are no-store: the alert page is fetched again

    # Resolving without the checklist is refused, with a message; the note is not enough.
    page.get_by_label("What was done").fill("Phoned the client; safe, plan agreed.")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_selector("text=Tick every step of the safety checklist before resolving.")
    assert Alert.objects.get(pk=alert.pk).status == Status.ACKNOWLEDGED
    assert page.locator(".alert-status").inner_text() == "Acknowledged"
    axe.check(page, "risk alert, acknowledged, resolve refused (desktop)")
    page.screenshot(path=str(artifacts / "clinician-4-resolve-refused.png"), full_page=True)

    boxes = page.locator("fieldset.checklist input[type=checkbox]")
    assert boxes.count() == 5
    for i in range(5):
        boxes.nth(i).check()
    page.get_by_label("What was done").fill("Phoned the client; safe, plan agreed.")
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_selector(".message:has-text('Resolved.')")
    assert page.locator(".alert-status").inner_text() == "Resolved"
    assert "Phoned the client; safe, plan agreed." in page.inner_text("main")
    assert page.get_by_role("button", name="Resolve").count() == 0
    resolved = Alert.objects.get(pk=alert.pk)
    assert resolved.status == Status.RESOLVED
    axe.check(page, "risk alert, resolved (desktop)")
    page.screenshot(path=str(artifacts / "clinician-5-alert-resolved.png"), full_page=True)
    assert foreign == []
    axe.assert_clean()


def test_a_clinician_creates_a_link_and_shows_its_qr_code(
    open_page, live_world, live_server, artifacts
):
    from alliance.measures.models import MeasureLink

    _prepare(live_world)
    client, encounter = live_world.own_client, live_world.own_encounter
    axe = Axe()
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "clinician")
    page.goto(f"{live_server.url}/clients/{client.pk}/encounters/{encounter.pk}/measures/")
    page.wait_for_selector("h1:has-text('Measures for session')")
    assert page.locator("#link-url").count() == 0  # only after creating one
    axe.check(page, "session links page (desktop)")

    page.locator("form.send-link").first.get_by_role("button", name="Create link").click()
    page.wait_for_selector("#new-link-title")
    url = page.locator("#link-url").input_value()
    assert "/m/" in url
    qr = page.get_by_alt_text("QR code of the client's link")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the code really renders
    assert page.get_by_role("button", name="Copy link").is_visible()
    assert MeasureLink.objects.filter(encounter=encounter, completed_at__isnull=True).count() == 1
    axe.check(page, "session links page with a new link (desktop)")
    page.screenshot(path=str(artifacts / "clinician-6-link-qr.png"), full_page=True)

    # The link shown is the one a client can open (the base URL is the deployment's own).
    client_page, _ = open_page(**PHONE)
    client_page.goto(f"{live_server.url}/m/{url.split('/m/', 1)[1]}")
    client_page.wait_for_selector("h1:has-text('Before your session')")
    assert foreign == []
    axe.assert_clean()
