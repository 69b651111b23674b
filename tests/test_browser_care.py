"""In a real headless Chromium: the whole-person care plan (alliance.care).

A coordinator opens the registry from the navigation, sees each client's flags as they follow
from the data, filters by one flag and downloads the same rows as CSV; two clinicians on one
care team edit the same plan item at once, and the second is shown both versions (nothing
overwritten) before saving theirs over the first. Pages are checked with axe-core as in
test_browser_feedback; serious and critical violations fail the test. Screenshots go to the
test's tmp_path.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import World, scored_response
from tests.test_browser_feedback import DESKTOP, Axe, _sign_in

pytestmark = pytest.mark.browser

NEED = "Low mood most days; stopped seeing friends"
GOAL = "Back to the Thursday walking group"
BEFORE = "Weekly sessions; behavioural activation diary"
FIRST = "Add a joint session with the social worker about the walking group"
SECOND = "Ask the peer support worker to go to the first walk with them"


# --- helpers --------------------------------------------------------------------------------


def _no_alerts() -> None:
    """The world's fixture alerts would put a risk banner (with the client's name) on pages."""
    from alliance.alerts.models import Alert

    Alert.objects.all().delete()


def _in_treatment(world: World, name: str, *, weeks: int, contact_days_ago: int) -> Any:
    """A client of the coordinator's team, `weeks` into an episode, last seen that long ago."""
    from django.utils import timezone

    from alliance.clients.models import (
        Attendance,
        CareTeamMember,
        Client,
        Encounter,
        EncounterKind,
        Episode,
        Phase,
    )

    client = Client.objects.create(
        organisation=world.org,
        team=world.team,
        display_name=name,
        record_number="REG-" + name.split()[-1].upper(),
    )
    CareTeamMember.objects.create(
        organisation=world.org, client=client, membership=world.clinician, discipline="psychology"
    )
    episode = Episode.objects.create(
        organisation=world.org,
        client=client,
        opened_on=date.today() - timedelta(weeks=weeks),
        phase=Phase.WORKING,
    )
    Encounter.objects.create(
        organisation=world.org,
        client=client,
        episode=episode,
        clinician=world.clinician,
        starts_at=timezone.now() - timedelta(days=contact_days_ago),
        kind=EncounterKind.THERAPY,
        attendance=Attendance.ATTENDED,
    )
    return episode


def _registry_clients(world: World) -> dict[str, list[str]]:
    """Clients whose flags follow from their data; returns the flags each must show.

    own_client (from build_world) is four weeks in with no attended session: "No contact".
    """
    from django.utils import timezone

    from alliance.care.actions import do_flag_review
    from alliance.measurement import load_instrument

    rc = load_instrument("phq9").reliable_change
    assert rc is not None
    now = timezone.now()
    # Twelve weeks in, PHQ-9 down by less than its reliable change index.
    wren = _in_treatment(world, "Stuck Wren", weeks=12, contact_days_ago=3)
    scored_response(wren, "phq9", 20, "severe", now - timedelta(weeks=11))
    scored_response(wren, "phq9", 21 - rc.value, "moderate", now - timedelta(days=3))
    # The same, and not seen for three weeks.
    heron = _in_treatment(world, "Stuck Heron", weeks=13, contact_days_ago=21)
    scored_response(heron, "phq9", 18, "moderately severe", now - timedelta(weeks=12))
    scored_response(heron, "phq9", 18, "moderately severe", now - timedelta(days=21))
    # Twelve weeks in and reliably better: no flag at all.
    finch = _in_treatment(world, "Better Finch", weeks=12, contact_days_ago=2)
    scored_response(finch, "phq9", 20, "severe", now - timedelta(weeks=11))
    scored_response(finch, "phq9", 20 - rc.value, "moderate", now - timedelta(days=2))
    # Four weeks in, seen this week, flagged for the consultant.
    lark = _in_treatment(world, "Flagged Lark", weeks=4, contact_days_ago=2)
    do_flag_review(world.actor(world.coordinator), lark.client_id, question="Add medication?")
    return {
        "Stuck Heron": ["No reliable improvement", "No contact"],
        "Stuck Wren": ["No reliable improvement"],
        world.own_client.display_name: ["No contact"],
        "Flagged Lark": ["Discuss with consultant"],
        "Better Finch": [],
    }


def _registry_rows(page: Any) -> dict[str, list[str]]:
    """The registry table as {client name: [flag labels]}, in the order shown."""
    rows = page.locator("table.registry tbody tr")
    shown: dict[str, list[str]] = {}
    for n in range(rows.count()):
        row = rows.nth(n)
        name = row.locator("th a").inner_text()
        shown[name] = [f.strip() for f in row.locator("span.flag").all_inner_texts()]
    return shown


def _downloaded_rows(page: Any) -> list[dict[str, str]]:
    """Clicks "Download CSV" and reads the file the browser saved, one dict per client."""
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download CSV").click()
    download = downloading.value
    assert download.suggested_filename == "registry.csv"
    assert download.failure() is None
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:2] == ["record_number", "name"]
    return [dict(zip(header, row, strict=True)) for row in rows]


def _plan_page(open_page: Any, live_server: Any, username: str, client_id: int) -> Any:
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, username)
    page.goto(f"{live_server.url}/clients/{client_id}/care/")
    page.wait_for_selector("h1:has-text('Whole-person care plan')")
    assert foreign == []
    return page


def _open_edit(page: Any, item_id: int, action: str) -> Any:
    """Expands the item's "Edit" and types a new action; returns the item's table row."""
    row = page.locator(f"#item-{item_id}")
    row.locator("summary", has_text="Edit").click()
    field = row.get_by_label("Action (who does what)")
    assert field.is_visible()
    assert field.input_value() == BEFORE  # each page was read at version 1
    field.fill(action)
    return row


# --- the coordinator's registry -------------------------------------------------------------


def test_a_coordinator_filters_the_registry_by_a_flag_and_downloads_the_same_rows(
    open_page, live_world, live_server, tmp_path: Path
):
    _no_alerts()
    expected = _registry_clients(live_world)
    axe = Axe()
    page, foreign = open_page(**DESKTOP)
    _sign_in(page, live_server, "coordinator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registry").click()
    page.wait_for_selector("h1:has-text('Registry')")
    assert page.url == f"{live_server.url}/registry/"

    shown = _registry_rows(page)
    assert shown == expected
    # Most flags first, then the longest in treatment, then by name.
    assert list(shown) == list(expected)
    main = page.inner_text("main")
    for hidden in (live_world.other_team_client, live_world.other_org_client):
        for canary in live_world.canaries_of(hidden):
            assert canary not in main
    finch = page.locator("table.registry tbody tr", has_text="Better Finch")
    assert finch.locator(".verdict-improved").inner_text() == "yes"
    axe.check(page, "registry, everyone (desktop)")
    page.screenshot(path=str(tmp_path / "registry.png"), full_page=True)

    # The select names each flag with its count; Apply shows only the matching clients.
    page.get_by_label("Show").select_option(label="No reliable improvement (2)")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert "flag=not_improving" in page.url
    filtered = _registry_rows(page)
    assert list(filtered) == ["Stuck Heron", "Stuck Wren"]
    assert all("No reliable improvement" in flags for flags in filtered.values())
    assert page.get_by_label("Show").input_value() == "not_improving"  # the filter is kept
    axe.check(page, "registry, filtered by a flag (desktop)")

    got = _downloaded_rows(page)
    assert [(r["record_number"], r["name"]) for r in got] == [
        ("REG-HERON", "Stuck Heron"),
        ("REG-WREN", "Stuck Wren"),
    ]
    assert [r["flags"] for r in got] == ["not_improving;no_contact", "not_improving"]
    assert [r["reliable_improvement"] for r in got] == ["no", "no"]
    assert [r["weeks_in_treatment"] for r in got] == ["13", "12"]
    assert got[0]["phq9_intake"] == got[0]["phq9_latest"] == "18"

    # A name typed beside the flag narrows both the page and the download.
    page.get_by_label("Name or record").fill("heron")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert list(_registry_rows(page)) == ["Stuck Heron"]
    assert [r["name"] for r in _downloaded_rows(page)] == ["Stuck Heron"]
    assert foreign == []
    axe.assert_clean()


# --- two clinicians, one plan item ----------------------------------------------------------


def test_a_stale_plan_edit_shows_both_versions_and_overwrites_nothing(
    open_page, live_world, live_server, tmp_path: Path
):
    from alliance.care.actions import ItemIn, do_add_consent, do_add_item
    from alliance.care.models import CareItem
    from alliance.clients.models import CareRole, CareTeamMember

    _no_alerts()
    world = live_world
    client = world.own_client
    CareTeamMember.objects.create(
        organisation=world.org,
        client=client,
        membership=world.colleague,
        discipline=world.colleague.discipline,  # social work
        care_role=CareRole.MEMBER,
    )
    lead = world.actor(world.clinician)
    item = do_add_item(
        lead,
        client.pk,
        ItemIn("psychology", NEED, GOAL, BEFORE, owner_id=world.clinician.pk),
    )
    # Without it the social worker would not see a psychology item at all.
    do_add_consent(lead, client.pk, discipline=world.colleague.discipline)
    axe = Axe()
    first = _plan_page(open_page, live_server, "clinician", client.pk)
    second = _plan_page(open_page, live_server, "colleague", client.pk)
    assert second.locator(f"#item-{item.pk}").count() == 1
    axe.check(first, "care plan with one item (desktop)")

    first_row = _open_edit(first, item.pk, FIRST)
    second_row = _open_edit(second, item.pk, SECOND)
    with first.expect_navigation():
        first_row.get_by_role("button", name="Save", exact=True).click()
    assert "Plan item saved." in first.locator(".messages").inner_text()
    assert f"Action: {FIRST}" in first.locator(f"#item-{item.pk}").inner_text()
    assert CareItem.objects.values_list("action", "version").get(pk=item.pk) == (FIRST, 2)

    with second.expect_response(lambda r: r.request.method == "POST") as posted:
        second_row.get_by_role("button", name="Save", exact=True).click()
    assert posted.value.status == 409, posted.value.text()[:300]
    second.wait_for_load_state("load")
    conflict = second.locator("#conflict")
    assert conflict.get_attribute("role") == "alert"
    assert "Nothing was overwritten" in conflict.inner_text()
    theirs = conflict.locator("div.grid > div").nth(0)
    yours = conflict.locator("div.grid > div").nth(1)
    assert theirs.locator("h3").inner_text() == f"Saved by {world.clinician.user.display_name}"
    assert yours.locator("h3").inner_text() == "Yours (not saved)"
    assert theirs.locator("dt:has-text('Action') + dd").inner_text() == FIRST
    assert yours.locator("dt:has-text('Action') + dd").inner_text() == SECOND
    assert CareItem.objects.values_list("action", "version").get(pk=item.pk) == (FIRST, 2)
    # The row shows what is saved; the open form still holds what the second clinician wrote.
    row = second.locator(f"#item-{item.pk}")
    assert f"Action: {FIRST}" in row.inner_text()
    assert row.get_by_label("Action (who does what)").input_value() == SECOND
    assert row.get_by_role("link", name="Keep theirs").is_visible()
    axe.check(second, "care plan with an edit conflict (desktop)")
    second.screenshot(path=str(tmp_path / "care-plan-conflict.png"), full_page=True)

    with second.expect_navigation():
        row.get_by_role("button", name="Save mine over theirs").click()
    assert "Plan item saved." in second.locator(".messages").inner_text()
    assert second.locator("#conflict").count() == 0
    saved = CareItem.objects.get(pk=item.pk)
    assert (saved.action, saved.version, saved.updated_by_id) == (SECOND, 3, world.colleague.pk)
    assert (saved.need, saved.goal, saved.owner_id) == (NEED, GOAL, world.clinician.pk)
    first.reload()
    assert f"Action: {SECOND}" in first.locator(f"#item-{item.pk}").inner_text()
    axe.assert_clean()
