"""In a real headless Chromium: the client as the agent of change (alliance.agency).

A client rates their goals, writes a new one, logs a small victory and thanks the team on their
link page, on a phone; a clinician moves an episode through its ending to follow-up with a
relapse-prevention plan the client then reads from their link; a clinician keeps a thank-you.
Pages are checked with axe-core as in test_browser_feedback; serious and critical violations
fail the test. Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import World
from tests.test_browser_feedback import DESKTOP, PHONE, Axe, _focused_id, _send, _sign_in, _tap

pytestmark = pytest.mark.browser

PHQ9_ITEMS = 9
GAD7_ITEMS = 7
GOAL = "Walk to the park on my own"
NEW_GOAL = "Sleep through most nights"
VICTORY = "Took the bus into town and stayed for an hour"
THANKS = "Thank you all for being so patient with me"
PLAN = {
    "My warning signs": "Staying in bed past ten; cancelling on friends",
    "What helps me": "A walk before breakfast; phoning my sister",
    "Who I can contact": "My sister; the clinic on 0800 000 0000",
    "What I will do if things get harder": "Book a check-in with the clinic",
}


# --- helpers --------------------------------------------------------------------------------


def _no_alerts() -> None:
    """The world's fixture alerts would put a risk banner (with the client's name) on pages."""
    from alliance.alerts.models import Alert

    Alert.objects.all().delete()


def _goal_link(world: World) -> tuple[Any, Any, str]:
    """The plan asks the goal-progress rating; the client has one goal; a fresh link."""
    from django.utils import timezone

    from alliance.agency.models import Goal
    from alliance.measures.actions import do_create_link, do_set_plan
    from alliance.measures.plan import DEFAULT_PLAN, PlanEntry

    actor = world.actor(world.clinician)
    plan = [*DEFAULT_PLAN, PlanEntry("alliance-goal-progress", "before", "every")]
    do_set_plan(actor, world.own_episode.pk, plan, client_id=world.own_client.pk)
    goal = Goal.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        text=GOAL,
        written_by="client",
        created_at=timezone.now(),
    )
    link, token = do_create_link(actor, world.own_encounter.pk, timing="before", send_email=False)
    return goal, link, token


def _answer_questionnaires(page: Any) -> None:
    for n in range(1, PHQ9_ITEMS + 1):
        _tap(page, "phq9", f"item{n}", "Not at all")
    for n in range(1, GAD7_ITEMS + 1):
        _tap(page, "gad7", f"item{n}", "Not at all")


def _rate(page: Any, goal_id: int, rating: int) -> None:
    """Taps a goal's rating, as a client's finger would."""
    page.locator(f"label[for='goal-{goal_id}-{rating}']").tap()


def _write_extras(page: Any, world: World, goal_id: int) -> str:
    """A new goal, a small victory for the therapist alone, a thank-you to the team."""
    therapist = world.clinician.user.display_name
    page.get_by_label("Another goal, in your own words").fill(NEW_GOAL)
    page.get_by_label("What happened?").fill(VICTORY)
    page.get_by_label("A small victory").check()
    page.get_by_label("Is it about one of your goals?").select_option(str(goal_id))
    page.get_by_label(f"Only {therapist}").check()
    page.get_by_label("If you'd like to thank someone, write it here").fill(THANKS)
    page.get_by_label("For", exact=True).select_option(label="The whole care team")
    return therapist


def _click_and_wait(page: Any, form: Any, button: str, message: str) -> None:
    """Clicks a form's button and checks the message the next page shows."""
    with page.expect_navigation():
        form.get_by_role("button", name=button).click()
    shown = page.locator(".messages")
    assert shown.count() == 1, f"no message after {button!r}: {page.inner_text('main')[:500]!r}"
    assert message in shown.inner_text(), f"after {button!r}: {shown.inner_text()!r}"


# --- the client, on a phone -----------------------------------------------------------------


def test_a_client_rates_their_goals_and_adds_a_goal_a_victory_and_thanks(
    open_page, live_world, live_server, tmp_path: Path
):
    from alliance.agency.models import Goal, GoalRating, Moment, Thanks
    from alliance.measures.models import MeasureLink, Response

    _no_alerts()
    goal, link, token = _goal_link(live_world)
    questions = PHQ9_ITEMS + GAD7_ITEMS + 1  # one rating per goal
    axe = Axe()
    page, foreign = open_page(**PHONE)
    page.goto(f"{live_server.url}/m/{token}/")
    page.wait_for_selector("h1:has-text('Before your session')")
    progress = page.locator("#progress-text")
    assert progress.inner_text() == f"0 of {questions} questions answered"
    rating_box = page.locator(f"#q-goal-{goal.pk}")
    assert rating_box.locator("legend").inner_text() == GOAL
    assert rating_box.locator("input[type=radio]").count() == 11  # 0 to 10
    heights = rating_box.locator("label.option").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44  # each rating is large enough to tap
    axe.check(page, "link page with goal rating and extras, nothing answered (phone)")

    _answer_questionnaires(page)
    _rate(page, goal.pk, 7)
    assert rating_box.get_by_label("7", exact=True).is_checked()
    assert progress.inner_text() == f"All {questions} questions answered: you can send them now"
    _write_extras(page, live_world, goal.pk)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    axe.check(page, "link page with goal rating and extras filled in (phone)")
    page.screenshot(path=str(tmp_path / "link-extras-phone.png"), full_page=True)
    assert Response.objects.count() == 0  # nothing is stored before sending

    _send(page, 200)
    page.wait_for_selector("h1:has-text('Thank you')")
    assert "Your answers are with your care team" in page.inner_text("main")
    axe.check(page, "thank-you page after extras (phone)")

    assert MeasureLink.objects.get(pk=link.pk).completed_at is not None
    assert {r.instrument_id for r in Response.objects.filter(link=link)} == {"phq9", "gad7"}
    rating = GoalRating.objects.get()
    assert (rating.goal_id, rating.rating, rating.source, rating.link_id) == (
        goal.pk,
        7,
        "client",
        link.pk,
    )
    new = Goal.objects.exclude(pk=goal.pk).get()
    assert (new.text, new.written_by, new.episode_id, new.status) == (
        NEW_GOAL,
        "client",
        live_world.own_episode.pk,
        "active",
    )
    moment = Moment.objects.get()
    assert (moment.kind, moment.text, moment.visibility, moment.goal_id) == (
        "victory",
        VICTORY,
        "therapist",
        goal.pk,
    )
    assert moment.therapist_id == live_world.clinician.pk  # the session's clinician
    assert moment.written_by == "client"
    thanks = Thanks.objects.get()
    assert (thanks.message, thanks.to_id, thanks.link_id) == (THANKS, None, link.pk)
    assert foreign == []
    axe.assert_clean()


def test_a_goal_left_unrated_is_pointed_out_and_nothing_typed_is_lost(
    open_page, live_world, live_server, tmp_path: Path
):
    from alliance.agency.models import Goal, GoalRating, Moment, Thanks
    from alliance.measures.models import MeasureLink, Response

    _no_alerts()
    goal, link, token = _goal_link(live_world)
    axe = Axe()
    page, foreign = open_page(**PHONE)
    page.goto(f"{live_server.url}/m/{token}/")
    page.wait_for_selector("h1:has-text('Before your session')")
    _answer_questionnaires(page)
    therapist = _write_extras(page, live_world, goal.pk)  # the goal is not rated
    _send(page, 400)

    missed = page.locator(f"#q-goal-{goal.pk}")
    assert "invalid" in (missed.get_attribute("class") or "")
    assert "Please choose how far along you are, from 0 to 10." in missed.inner_text()
    described_by = missed.get_attribute("aria-describedby")
    assert described_by == f"err-goal-{goal.pk}"
    assert page.locator(f"#{described_by}").count() == 1
    assert page.locator(".question.invalid").count() == 1  # the questionnaires were fine
    # What the client wrote is all still there, as they left it.
    assert page.get_by_label("Another goal, in your own words").input_value() == NEW_GOAL
    assert page.get_by_label("What happened?").input_value() == VICTORY
    assert page.get_by_label("A small victory").is_checked()
    assert page.get_by_label(f"Only {therapist}").is_checked()
    assert page.get_by_label("Is it about one of your goals?").input_value() == str(goal.pk)
    assert (
        page.get_by_label("If you'd like to thank someone, write it here").input_value() == THANKS
    )
    assert page.locator("#q-gad7__item7").get_by_label("Not at all").is_checked()
    # Nothing stored, and the link still open.
    assert Response.objects.count() == 0
    assert GoalRating.objects.count() == 0
    assert list(Goal.objects.values_list("pk", flat=True)) == [goal.pk]
    assert Moment.objects.count() == 0
    assert Thanks.objects.count() == 0
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None
    page.screenshot(path=str(tmp_path / "link-extras-unrated-goal.png"), full_page=True)
    axe.check(page, "link page with an unrated goal (phone)")
    # As for a missed question, the summary at the top names the goal and links to it, and
    # takes the focus so that a screen reader starts there.
    errors = page.locator("#form-errors")
    assert errors.count() == 1, (
        "a goal left unrated got its message beside it, but no error summary at the top of "
        "the page (and no focus moved), unlike a missed question"
    )
    assert errors.get_by_role("link").get_attribute("href") == f"#q-goal-{goal.pk}"
    assert _focused_id(page) == "form-errors"

    _rate(page, goal.pk, 3)
    _send(page, 200)
    page.wait_for_selector("h1:has-text('Thank you')")
    assert GoalRating.objects.get().rating == 3
    assert Moment.objects.count() == 1
    assert Thanks.objects.count() == 1
    assert foreign == []
    axe.assert_clean()


# --- the clinician, at a desk ---------------------------------------------------------------


def test_a_clinician_ends_an_episode_with_a_plan_the_client_keeps(
    open_page, live_world, live_server, tmp_path: Path
):
    from django.utils import timezone

    from alliance.agency.models import CheckIn, RelapsePlan
    from alliance.clients.models import EncounterKind, Episode
    from alliance.measures.actions import do_create_link

    _no_alerts()
    client, episode = live_world.own_client, live_world.own_episode
    axe = Axe()
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "clinician")
    page.goto(f"{live_server.url}/clients/{client.pk}/episodes/{episode.pk}/ending/")
    page.wait_for_selector("h1:has-text('Ending and follow-up')")
    phase = page.locator(".page-head .phase")
    assert phase.inner_text() == "Engagement"
    assert page.locator("ul.readiness li.indicator").count() == 4
    axe.check(page, "ending page, engagement (desktop)")

    moves = page.locator("form.move")
    _click_and_wait(page, moves, "Move to working", "The episode is now in working.")
    assert phase.inner_text() == "Working"
    _click_and_wait(page, moves, "Move to ending", "The episode is now in ending.")
    assert phase.inner_text() == "Ending"
    assert Episode.objects.get(pk=episode.pk).phase == "ending"

    for label, text in PLAN.items():
        page.get_by_label(label).fill(text)
    plan_form = page.locator("form", has=page.get_by_role("button", name="Save the plan"))
    _click_and_wait(page, plan_form, "Save the plan", "Relapse-prevention plan saved")
    for label, text in PLAN.items():
        assert page.get_by_label(label).input_value() == text
    axe.check(page, "ending page, ending phase with a plan (desktop)")
    page.screenshot(path=str(tmp_path / "ending-page-ending.png"), full_page=True)

    discharge = page.locator("form.move", has=page.get_by_role("button", name="Discharge"))
    assert discharge.get_by_label("Check-ins after discharge (months)").input_value() == "1, 3, 6"
    today = timezone.localdate().isoformat()
    shown_date = discharge.get_by_label("Discharged on").input_value()
    assert shown_date == today, (
        f"the discharge date should start at today ({today}) but the date box is "
        f"{shown_date!r}: the server sent a date a date input cannot show"
    )
    _click_and_wait(page, discharge, "Discharge to follow-up", "The episode is now in follow-up.")
    assert phase.inner_text() == "Follow-up"
    rows = page.locator("section:has(h2:has-text('Follow-up check-ins')) tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(3)] == [
        "1 month",
        "3 months",
        "6 months",
    ]
    assert all(rows.nth(i).locator("td").nth(2).inner_text() == "Scheduled" for i in range(3))
    axe.check(page, "ending page, follow-up with check-ins (desktop)")
    page.screenshot(path=str(tmp_path / "ending-page-follow-up.png"), full_page=True)

    assert Episode.objects.get(pk=episode.pk).phase == "follow_up"
    check_ins = list(CheckIn.objects.filter(episode=episode).select_related("encounter"))
    assert sorted(c.months for c in check_ins) == [1, 3, 6]
    assert all(c.status == "scheduled" for c in check_ins)
    assert all(c.encounter.kind == EncounterKind.FOLLOW_UP for c in check_ins)
    plan = RelapsePlan.objects.get(episode=episode)
    assert plan.warning_signs == PLAN["My warning signs"]

    # The client's check-in link offers the plan; the plan page shows what was written.
    first = min(check_ins, key=lambda c: c.months)
    _, token = do_create_link(
        live_world.actor(live_world.clinician),
        first.encounter_id,
        timing="before",
        send_email=False,
    )
    phone, phone_foreign = open_page(**PHONE)
    phone.goto(f"{live_server.url}/m/{token}/")
    phone.wait_for_selector("h1:has-text('Checking in: how have you been?')")
    own_link = phone.get_by_role("link", name="Your plan for staying well")
    assert own_link.is_visible()
    axe.check(phone, "follow-up check-in link page with the plan offered (phone)")
    own_link.tap()
    phone.wait_for_selector("h2:has-text('My plan for staying well')")
    assert phone.url == f"{live_server.url}/m/{token}/mine/"
    shown = phone.inner_text("main")
    for label, text in PLAN.items():
        assert label in shown
        assert text in shown
    assert client.display_name not in shown
    axe.check(phone, "the client's plan page (phone)")
    phone.screenshot(path=str(tmp_path / "client-plan-phone.png"), full_page=True)
    assert foreign == []
    assert phone_foreign == []
    axe.assert_clean()


def test_a_clinician_keeps_a_thank_you_with_the_clients_initials_only(
    open_page, live_world, live_server, tmp_path: Path
):
    from django.utils import timezone

    from alliance.agency.models import KeptThanks, Thanks

    _no_alerts()
    client = live_world.own_client
    Thanks.objects.create(
        organisation=live_world.org,
        client=client,
        episode=live_world.own_episode,
        message=THANKS,
        created_at=timezone.now(),
    )
    axe = Axe()
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "clinician")
    page.goto(f"{live_server.url}/clients/{client.pk}/goals/")
    page.wait_for_selector("h1:has-text('Goals and moments')")
    kept_card = page.locator("section:has(h2:has-text('Thank-yous'))")
    item = kept_card.locator("ul.thanks-list li", has_text=THANKS)
    assert "to the care team" in item.inner_text()
    axe.check(page, "goals page with a thank-you (desktop)")

    _click_and_wait(page, item, "Keep in my collection", "Kept in your gratitude collection.")
    assert page.url == f"{live_server.url}/thanks/"
    kept = KeptThanks.objects.get()
    assert (kept.user_id, kept.message, kept.initials) == (
        live_world.clinician.user_id,
        THANKS,
        "C.O.B.",
    )

    page.get_by_role("navigation").get_by_role("link", name="Thank-yous").click()
    page.wait_for_selector("h1:has-text('Thank-yous')")
    collection = page.locator("section:has(h2:has-text('Kept'))")
    entry = collection.locator("ul.thanks-list li", has_text=THANKS)
    assert entry.count() == 1
    month = timezone.localdate().strftime("%B %Y")
    assert entry.locator("p.muted").inner_text() == f"C.O.B. · {month}"
    main = page.inner_text("main")
    for part in (client.display_name, "Canary", "Bluebird", client.record_number):
        assert part not in main
    axe.check(page, "gratitude collection (desktop)")
    page.screenshot(path=str(tmp_path / "gratitude.png"), full_page=True)
    assert foreign == []
    axe.assert_clean()
