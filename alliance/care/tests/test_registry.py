"""The coordinator's registry: flags that follow from the data, a CSV export, and a query
count that does not grow with the number of clients."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alliance.audit.models import AuditEntry
from alliance.care import actions
from alliance.care.actions import ShareIn
from alliance.care.registry import registry
from alliance.clients.models import Attendance, Client, Encounter, Episode
from alliance.measurement import load_instrument
from alliance.measures.models import MeasureLink
from conftest import scored_response, signed_in

pytestmark = pytest.mark.django_db


def _in_treatment(world, name, *, weeks, contact_days_ago=None):
    client = Client.objects.create(
        organisation=world.org, team=world.team, display_name=name, record_number=name.upper()
    )
    episode = Episode.objects.create(
        organisation=world.org,
        client=client,
        opened_on=date.today() - timedelta(weeks=weeks),
        phase="working",
    )
    if contact_days_ago is not None:
        Encounter.objects.create(
            organisation=world.org,
            client=client,
            episode=episode,
            clinician=world.clinician,
            starts_at=timezone.now() - timedelta(days=contact_days_ago),
            kind="therapy",
            attendance=Attendance.ATTENDED,
        )
    return client, episode


def test_flags_follow_from_the_data(world):
    # PHQ-9's reliable change: the instrument file's figure, from its named source.
    threshold = load_instrument("phq9").reliable_change
    assert threshold is not None
    rc = threshold.value
    now = timezone.now()
    better, better_ep = _in_treatment(world, "Better", weeks=12, contact_days_ago=3)
    scored_response(better_ep, "phq9", 20, "severe", now - timedelta(weeks=11))
    scored_response(better_ep, "phq9", 20 - rc, "moderate", now - timedelta(days=3))
    stuck, stuck_ep = _in_treatment(world, "Stuck", weeks=12, contact_days_ago=20)
    scored_response(stuck_ep, "phq9", 20, "severe", now - timedelta(weeks=11))
    scored_response(stuck_ep, "phq9", 21 - rc, "moderate", now - timedelta(days=20))
    early, _ = _in_treatment(world, "Early", weeks=3, contact_days_ago=2)
    encounter = Encounter.objects.filter(client=early).get()
    MeasureLink.objects.create(
        organisation=world.org,
        client=early,
        encounter=encounter,
        timing="before",
        instruments=["phq9"],
        token_hash="x" * 64,
        created_at=now - timedelta(days=5),
        expires_at=now - timedelta(days=2),
    )
    for client in (better, stuck, early):
        for m in (world.clinician,):
            client.care_team.create(organisation=world.org, membership=m, discipline="psychology")
    actions.do_save_needs(
        world.actor(world.coordinator),
        better.pk,
        base_version=0,
        shares=[ShareIn("psychology", 100, world.clinician.pk)],
        reason="",
        agreed_with_client=True,
    )
    actions.do_flag_review(world.actor(world.coordinator), stuck.pk, question="Step up?")

    found = {r.name: r for r in registry(world.actor(world.coordinator)).rows}
    assert found["Better"].improved
    assert found["Better"].flags == []
    assert found["Stuck"].flags == ["not_improving", "no_contact", "discuss"]
    assert found["Early"].flags == ["missed"]
    actions.do_save_needs(
        world.actor(world.coordinator),
        early.pk,
        base_version=0,
        shares=[ShareIn("psychology", 60, world.clinician.pk), ShareIn("social_work", 40)],
        reason="",
        agreed_with_client=True,
    )
    found = {r.name: r for r in registry(world.actor(world.coordinator)).rows}
    assert found["Early"].flags == ["missed", "unmet"]
    assert found["Early"].unmet == 40
    assert found["Stuck"].score_text("phq9") == f"20 → {21 - rc}"
    # Most flags first.
    names = [r.name for r in registry(world.actor(world.coordinator)).rows]
    assert names.index("Stuck") < names.index("Early") < names.index("Better")


def test_the_clinics_settings_move_the_flags(world):
    _in_treatment(world, "Eleven", weeks=11, contact_days_ago=10)
    rows = {r.name: r for r in registry(world.actor(world.coordinator)).rows}
    assert "not_improving" in rows["Eleven"].flags
    assert "no_contact" not in rows["Eleven"].flags
    world.org.clinic_settings.target_weeks = 12
    world.org.clinic_settings.contact_days = 7
    world.org.clinic_settings.save()
    rows = {r.name: r for r in registry(world.actor(world.coordinator)).rows}
    assert "not_improving" not in rows["Eleven"].flags
    assert "no_contact" in rows["Eleven"].flags


def _many(world, n, start=0):
    now = timezone.now()
    for i in range(start, start + n):
        _client, episode = _in_treatment(world, f"Client {i:03d}", weeks=i % 15, contact_days_ago=i)
        scored_response(episode, "phq9", 15, "moderate", now - timedelta(days=i))
        scored_response(episode, "gad7", 12, "moderate", now)


def test_the_query_count_does_not_grow_with_the_clients(world):
    http = signed_in(world.coordinator)
    http.get(reverse("registry"))  # the session and settings rows exist from here on
    _many(world, 3)
    with CaptureQueriesContext(connection) as few:
        assert http.get(reverse("registry")).status_code == 200
    _many(world, 40, start=3)
    with CaptureQueriesContext(connection) as many:
        page = http.get(reverse("registry"))
    assert page.status_code == 200
    assert "Client 042" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_csv_export_is_audited_and_safe_in_a_spreadsheet(world):
    _in_treatment(world, "=HYPERLINK(1)", weeks=2, contact_days_ago=1)
    response = signed_in(world.coordinator).get(reverse("registry_csv"))
    assert response["Content-Disposition"] == 'attachment; filename="registry.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["record_number", "name", "phase", "weeks_in_treatment"]
    names = [r[1] for r in rows[1:]]
    assert "'=HYPERLINK(1)" in names
    assert AuditEntry.objects.filter(action="registry.export").count() == 1


def test_filters_and_an_empty_state(world):
    _in_treatment(world, "Quiet", weeks=1, contact_days_ago=1)
    http = signed_in(world.coordinator)
    page = http.get(reverse("registry"), {"flag": "discuss"}).content.decode()
    assert "No client matches these filters." in page
    page = http.get(reverse("registry"), {"flag": "bogus", "sort": "nonsense"}).content.decode()
    assert "Quiet" in page
    assert "no profile" in page
    # A clinician sees only their own care-team clients; another clinic's never.
    assert "Quiet" not in signed_in(world.outsider).get(reverse("registry")).content.decode()
