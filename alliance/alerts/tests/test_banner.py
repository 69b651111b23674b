"""The risk banner: on every page of the care team until acknowledged, and its reading audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alliance.alerts.actions import do_acknowledge
from alliance.audit.models import AuditEntry
from conftest import signed_in

pytestmark = pytest.mark.django_db


def test_the_care_team_sees_the_banner_and_its_showing_is_audited(world):
    body = signed_in(world.clinician).get(reverse("pending_links")).content.decode()
    assert "Risk alert waiting" in body
    assert world.own_client.display_name in body
    entry = AuditEntry.objects.filter(action="alert.banner").latest("pk")
    assert entry.actor_id == world.clinician.user_id
    assert entry.detail == {"alerts": [world.own_alert.pk]}


def test_nobody_else_sees_it(world):
    body = signed_in(world.coordinator).get(reverse("pending_links")).content.decode()
    assert world.other_team_client.display_name not in body  # not the coordinator's team
    assert world.other_org_client.display_name not in body


def test_acknowledging_clears_it(world):
    do_acknowledge(world.actor(world.clinician), world.own_alert.pk, version=1)
    body = signed_in(world.clinician).get(reverse("pending_links")).content.decode()
    assert "Risk alert waiting" not in body


def test_a_new_risk_answer_reopens_an_acknowledged_alert_as_new(world):
    from django.utils import timezone

    from alliance.alerts.actions import Findings, apply
    from alliance.alerts.models import Alert
    from alliance.alerts.rules import RISK, Signal
    from alliance.measures.models import Response

    do_acknowledge(world.actor(world.clinician), world.own_alert.pk, version=1)
    response = Response.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        instrument_id="phq9",
        instrument_version="1",
        source="link",
        answers={},
        total=12,
        band="moderate",
        complete=True,
        flags=["risk:item9"],
        submitted_at=timezone.now(),
    )
    apply(
        Findings(
            signals=[(Signal(RISK, "item 9 answered 3"), response)],
            open_ids={RISK: world.own_alert.pk},
        )
    )
    alert = Alert.objects.get(pk=world.own_alert.pk)
    assert (alert.status, alert.acknowledged_at, alert.acknowledged_by) == ("open", None, None)
    assert alert.reason == "item 9 answered 3"
    assert (timezone.now() - alert.opened_at).total_seconds() < 60
