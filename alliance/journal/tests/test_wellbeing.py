"""The wellbeing check-in, its trend, gentle notes, and the caseload's intensity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alliance.accounts.models import Membership, Role, User
from alliance.alerts.models import PRIORITY, Alert, Kind, Status
from alliance.audit.models import AuditEntry
from alliance.clients.models import Attendance, Encounter, EncounterKind
from alliance.journal.models import WellbeingCheckin, WellbeingPreference
from alliance.journal.trend import Point, trend_svg
from alliance.journal.wellbeing import HEAVY_NOTE, intensity
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

RATINGS = {"energy": "6", "load": "4", "meaning": "8", "support": "5"}


def _checkins(world, loads: list[int], days_ago: int = 0) -> None:
    now = timezone.now() - timedelta(days=days_ago)
    for i, load in enumerate(loads):
        WellbeingCheckin.objects.create(
            author=world.clinician.user,
            at=now - timedelta(days=len(loads) - i),
            energy=5,
            load=load,
            meaning=6,
            support=4,
        )


def test_it_records_a_check_in_and_keeps_the_ratings_out_of_the_trail(world, as_member):
    http = as_member(world.clinician)
    assert http.post(reverse("wellbeing"), RATINGS).status_code == 302
    checkin = WellbeingCheckin.objects.get()
    assert (checkin.energy, checkin.load, checkin.meaning, checkin.support) == (6, 4, 8, 5)
    assert AuditEntry.objects.get(action="wellbeing.checkin").detail == {}
    page = http.get(reverse("wellbeing")).content.decode()
    assert "not a validated instrument" in page
    assert "<td>8</td>" in page  # the table view of the trend


@pytest.mark.parametrize("bad", ["11", "-1", "", "five"])
def test_it_refuses_a_rating_outside_0_to_10(world, as_member, bad):
    response = as_member(world.clinician).post(reverse("wellbeing"), {**RATINGS, "load": bad})
    assert response.status_code == 400
    assert "number from 0 to 10" in response.content.decode()
    assert not WellbeingCheckin.objects.exists()


def test_it_draws_the_trend_with_a_title_and_a_description():
    points = [Point("1 Nov 2026", 5, 3, 7, 6), Point("8 Nov 2026", 4, 8, 6, 5)]
    svg = trend_svg(points)
    assert "<title" in svg
    assert "Emotional load rose from 3 to 8." in svg
    assert 'role="img"' in svg
    assert "No check-ins yet." in trend_svg([])


def test_it_notes_a_heavy_load_three_times_in_a_row(world, as_member):
    _checkins(world, [3, 8, 7, 9])
    page = as_member(world.clinician).get(reverse("wellbeing")).content.decode()
    assert HEAVY_NOTE in page


def test_it_stays_quiet_when_the_load_eased_or_notes_are_off(world, as_member):
    http = as_member(world.clinician)
    _checkins(world, [8, 9, 4])
    assert HEAVY_NOTE not in http.get(reverse("wellbeing")).content.decode()
    _checkins(world, [8, 9, 9])
    WellbeingPreference.objects.create(user=world.clinician.user, prompts_on=False)
    assert HEAVY_NOTE not in http.get(reverse("wellbeing")).content.decode()


def test_it_reminds_when_the_chosen_rhythm_has_passed(world, as_member):
    http = as_member(world.clinician)
    assert "You have not checked in yet" in http.get(reverse("wellbeing")).content.decode()
    _checkins(world, [3], days_ago=2)
    assert "a while ago" not in http.get(reverse("wellbeing")).content.decode()
    response = http.post(reverse("wellbeing_rhythm"), {"rhythm_days": "1", "prompts_on": "on"})
    assert response.status_code == 302
    assert "every day" in http.get(reverse("wellbeing")).content.decode()


def test_it_counts_the_caseload_intensity(world, as_member):
    actor = world.actor(world.clinician)
    now = timezone.now()
    Alert.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        kind=Kind.NOT_ON_TRACK,
        priority=PRIORITY[Kind.NOT_ON_TRACK],
        opened_at=now,
        reason="test",
        facts={},
        status=Status.RESOLVED,
    )
    Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        clinician=world.clinician,
        starts_at=now,
        kind=EncounterKind.THERAPY,
    )
    Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        clinician=world.clinician,
        starts_at=now,
        kind=EncounterKind.THERAPY,
        attendance=Attendance.CANCELLED,
    )
    found = intensity(actor, now)
    assert found.clients == 1
    assert found.with_risk == 1  # the world's open risk alert
    assert found.not_on_track == 0  # resolved: no longer counts
    assert found.risk_share == "100%"
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    earlier = timezone.localdate(world.own_encounter.starts_at) >= monday  # 3 days ago
    assert found.sessions_this_week == 1 + earlier  # the cancelled one does not count
    page = as_member(world.clinician).get(reverse("wellbeing")).content.decode()
    assert "Sessions this week" in page
    assert "100% (1)" in page


def test_it_shows_an_empty_caseload_without_dividing_by_zero(world):
    newcomer = Membership.objects.create(
        user=User.objects.create_user(username="newcomer", password=PASSWORD),
        organisation=world.org,
        role=Role.CLINICIAN,
    )
    found = intensity(world.actor(newcomer), timezone.now())
    assert (found.clients, found.sessions_this_week) == (0, 0)
    assert found.risk_share == "—"
