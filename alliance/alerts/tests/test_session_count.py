"""The not-on-track rule counts measured sessions of treatment only: a client back in care after
discharge is at the session after their last one, whatever follow-up check-ins came between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alliance.accounts.models import ClinicSettings, clinic_settings
from alliance.alerts.actions import evaluate
from alliance.alerts.models import Alert, Kind
from alliance.clients.models import Attendance, Encounter, EncounterKind, Phase
from alliance.measurement import load_instrument, score
from alliance.trajectories.models import TrajectoryFit
from conftest import World, scored_response

pytestmark = pytest.mark.django_db

PHQ9 = load_instrument("phq9")
FIFTEEN = {f"item{n}": 2 for n in range(1, 8)} | {"item8": 1, "item9": 0}  # PHQ-9 total 15


def _encounter(world: World, at: datetime, kind: str) -> Encounter:
    return Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        clinician=world.clinician,
        starts_at=at,
        kind=kind,
        attendance=Attendance.ATTENDED,
    )


def _back_in_care_after_a_check_in(world: World) -> Alert:
    """Three sessions (16, 15, 15), a follow-up check-in (15), then a fourth session (15)."""
    Alert.objects.all().delete()
    start = timezone.now() - timedelta(days=120)
    for n, total in enumerate([16, 15, 15]):
        at = start + timedelta(weeks=n)
        session = _encounter(world, at, EncounterKind.THERAPY)
        scored_response(world.own_episode, "phq9", total, "", at, encounter=session)
    check_in = _encounter(world, start + timedelta(weeks=8), EncounterKind.FOLLOW_UP)
    scored_response(world.own_episode, "phq9", 15, "", check_in.starts_at, encounter=check_in)
    world.own_episode.phase = Phase.WORKING  # back in care
    world.own_episode.save(update_fields=["phase"])
    at = timezone.now() - timedelta(days=1)
    session = _encounter(world, at, EncounterKind.THERAPY)
    result = score(PHQ9, FIFTEEN)
    assert result.total == 15
    response = scored_response(world.own_episode, "phq9", 15, "", at, encounter=session)
    evaluate(response, PHQ9, result, clinic_settings(world.org.pk))
    return Alert.objects.get(episode=world.own_episode, kind=Kind.NOT_ON_TRACK)


def test_the_rule_based_check_counts_treatment_sessions_only(world):
    alert = _back_in_care_after_a_check_in(world)
    assert alert.facts["session"] == 4
    assert "PHQ-9 is 15 at measured session 4" in alert.reason


def test_the_fitted_band_is_read_at_the_treatment_session(world):
    # For an intake of 16: above the band at session 4 (upper 14), inside it at 5 (upper 16).
    rows = [[10.0, 13.0, 16.0], [9.0, 12.0, 15.0], [8.0, 11.0, 14.0], [8.0, 12.0, 16.0]]
    fit = TrajectoryFit.objects.create(
        organisation=world.org,
        instrument_id="phq9",
        fitted_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        episodes=300,
        observations=2000,
        model={},
        bands={"sessions": [2, 3, 4, 5], "lower_q": 0.1, "upper_q": 0.9, "rows": {"16": rows}},
    )
    ClinicSettings.objects.update_or_create(
        organisation=world.org,
        defaults={"trajectory_fits": {"phq9": fit.pk}, "use_fitted_bands": True},
    )
    alert = _back_in_care_after_a_check_in(world)
    assert alert.facts["session"] == 4
    assert alert.facts["band_upper"] == 14.0
