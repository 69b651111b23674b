"""The caseload: the right rows, a fixed number of queries, filters, and an empty state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.clients.models import Attendance, CareRole, CareTeamMember, Client, Encounter, Episode
from conftest import scored_response, signed_in

pytestmark = pytest.mark.django_db


def _add_clients(world, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        client = Client.objects.create(
            organisation=world.org,
            team=world.team,
            display_name=f"Extra {n}",
            record_number=f"EX-{n}",
        )
        CareTeamMember.objects.create(
            organisation=world.org,
            client=client,
            membership=world.clinician,
            care_role=CareRole.LEAD,
        )
        episode = Episode.objects.create(
            organisation=world.org,
            client=client,
            opened_on=timezone.localdate(),
            planned_sessions=8,
        )
        Encounter.objects.create(
            organisation=world.org,
            client=client,
            episode=episode,
            starts_at=timezone.now() - timedelta(days=1),
            kind="therapy",
            attendance=Attendance.ATTENDED,
        )


def _queries_for_home(http) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = http.get(reverse("home"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_number_of_queries_does_not_grow_with_the_caseload(world):
    http = signed_in(world.clinician)
    _add_clients(world, 5)
    _queries_for_home(http)  # the first audit entry of a clinic also creates its chain head
    small = _queries_for_home(http)
    _add_clients(world, 30, start=5)
    assert _queries_for_home(http) == small


def test_it_lists_sessions_and_the_phase(world):
    world.own_encounter.attendance = Attendance.ATTENDED
    world.own_encounter.save(update_fields=["attendance"])
    body = signed_in(world.clinician).get(reverse("home")).content.decode()
    assert "Canary Own-Bluebird" in body
    assert "1 of 12" in body  # one attended session of twelve planned
    assert "Engagement" in body


def test_it_filters_by_search_and_shows_a_clear_no_match_state(world):
    world.own_alert.delete()  # its banner would name the client on every page
    http = signed_in(world.clinician)
    _add_clients(world, 3)
    body = http.get(reverse("home"), {"q": "Extra 1"}).content.decode()
    assert "Extra 1" in body
    assert "Canary Own-Bluebird" not in body
    body = http.get(reverse("home"), {"q": "nobody-by-this-name"}).content.decode()
    assert "No clients match" in body


def test_an_unknown_sort_or_phase_falls_back_instead_of_failing(world):
    response = signed_in(world.clinician).get(
        reverse("home"), {"sort": "drop table", "phase": "x", "page": "zz"}
    )
    assert response.status_code == 200


def test_an_empty_caseload_says_what_to_do(world):
    from alliance.accounts.models import Membership, Role, User

    user = User.objects.create_user(username="newbie", password="x-very-long-pass")
    newbie = Membership.objects.create(
        user=user, organisation=world.org, role=Role.CLINICIAN, discipline="nursing"
    )
    body = signed_in(newbie).get(reverse("home")).content.decode()
    assert "Your caseload is empty" in body
    assert "Register a client" in body


def test_it_pages_long_caseloads(world):
    _add_clients(world, 55)
    http = signed_in(world.clinician)
    first = http.get(reverse("home")).content.decode()
    assert "Page 1" in first
    assert ">Next</a>" in first
    assert first.count('scope="row"') == 50
    second = http.get(reverse("home"), {"page": 2}).content.decode()
    assert "Page 2" in second
    assert ">Next</a>" not in second
    assert second.count('scope="row"') == 56 - 50  # 55 added and the world's own client


def test_it_shows_latest_scores_change_since_intake_and_alliance_trend(world):

    def respond(instrument_id, total, band, days_ago):
        scored_response(
            world.own_episode,
            instrument_id,
            total,
            band,
            timezone.now() - timedelta(days=days_ago),
            encounter=world.own_encounter,
        )

    respond("phq9", 18, "moderately severe", 20)  # intake
    respond("phq9", 15, "moderately severe", 10)
    respond("phq9", 11, "moderate", 2)  # latest: -7, reliable improvement (6 or more)
    respond("gad7", 9, "mild", 20)
    respond("gad7", 8, "mild", 2)  # -1: no reliable change (4 or more needed)
    respond("alliance-session-check", 36, "", 9)
    respond("alliance-session-check", 31, "", 1)
    Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        clinician=world.clinician,
        starts_at=timezone.now() + timedelta(days=2),
        kind="therapy",
    )
    body = signed_in(world.clinician).get(reverse("home")).content.decode()
    assert "<strong>PHQ-9 11</strong>" in body
    assert "(-7, " in body
    assert "verdict-improved" in body
    assert "<strong>GAD-7 8</strong>" in body
    assert "no reliable change" in body
    assert "31/40 ↓" in body
    day = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%-d %b %Y")
    assert day in body  # last measured: the alliance check a day ago


def test_every_value_on_a_caseload_row_is_escaped(world):
    """The rows are built in Python (alliance/measures/caseload_html.py), not by a template:
    a name, a record number or an alert's reason written as markup shows as text."""
    from alliance.alerts.models import Alert, Kind, Status

    _add_clients(world, 1)
    client = Client.objects.get(record_number="EX-0")
    Client.objects.filter(pk=client.pk).update(
        display_name='<script>alert("name")</script>', record_number="<b>RN</b>&'"
    )
    Alert.objects.create(
        organisation=world.org,
        client=client,
        kind=Kind.NOT_ON_TRACK,
        status=Status.OPEN,
        priority=2,
        opened_at=timezone.now(),
        episode=client.episodes.get(),
        reason='"><img src=x onerror=alert(1)>',
    )
    html = signed_in(world.clinician).get(reverse("home")).content.decode()
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;RN&lt;/b&gt;&amp;&#x27;" in html
    assert 'title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
