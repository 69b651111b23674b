"""`alliance demo`: a fictional clinic, the same for the same seed, scalable."""

from __future__ import annotations

import pytest

from alliance.accounts.models import Membership, Organisation, Role
from alliance.clients.models import Client, Encounter, Episode
from alliance.demo.generate import load_demo

pytestmark = pytest.mark.django_db


def _snapshot() -> list[tuple[object, ...]]:
    return list(
        Client.objects.order_by("record_number").values_list(
            "record_number",
            "display_name",
            "team__name",
            "episodes__planned_sessions",
            "episodes__phase",
        )
    )


def test_it_creates_every_role_and_about_forty_clients():
    assert load_demo(seed=7, clients=40)
    org = Organisation.objects.get(slug="riverbend-demo")
    roles = set(Membership.objects.filter(organisation=org).values_list("role", flat=True))
    assert roles == set(Role.values)
    assert Client.objects.filter(organisation=org).count() == 40
    assert Episode.objects.filter(organisation=org).count() == 40
    assert Encounter.objects.filter(organisation=org).count() > 40
    disciplines = set(
        Membership.objects.filter(organisation=org).values_list("discipline", flat=True)
    )
    assert len(disciplines - {""}) >= 5


def test_the_same_seed_gives_the_same_clinic():
    load_demo(seed=11, clients=12)
    first = _snapshot()
    _forget_everything()
    load_demo(seed=11, clients=12)
    assert _snapshot() == first


def _forget_everything() -> None:
    from alliance.accounts.models import Team, User
    from alliance.alerts.models import Alert
    from alliance.clients.models import CareTeamMember
    from alliance.measures.models import Response

    for model in (
        Alert,
        Response,
        Encounter,
        Episode,
        CareTeamMember,
        Client,
        Membership,
        Team,
        User,
        Organisation,
    ):
        model.objects.all().delete()


def test_the_demo_shows_scores_and_the_alerts_the_rules_give():
    from alliance.alerts.models import Alert
    from alliance.measures.models import Response

    load_demo(seed=2026, clients=40)
    assert Response.objects.filter(instrument_id="phq9").count() > 100
    kinds = set(Alert.objects.values_list("kind", flat=True))
    assert {"risk", "not_on_track", "rupture"} <= kinds
    assert all(a.reason for a in Alert.objects.all())


def test_it_leaves_a_database_with_data_alone_when_asked():
    load_demo(seed=1, clients=3)
    assert load_demo(seed=1, clients=3, if_empty=True) is False
    assert Organisation.objects.filter(slug="riverbend-demo").count() == 1


def test_it_scales_in_batches():
    load_demo(seed=3, clients=2500)
    assert Client.objects.filter(organisation__slug="riverbend-demo").count() == 2500
