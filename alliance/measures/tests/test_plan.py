"""The measurement plan: defaults, schedules, and the clinician's changes to it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from alliance.audit.models import AuditEntry
from alliance.clients.errors import ActionError
from alliance.clients.models import Encounter
from alliance.measures import actions
from alliance.measures.plan import DEFAULT_PLAN, PlanEntry, instruments_due, plan_for
from conftest import signed_in

pytestmark = pytest.mark.django_db


def _sessions(world, count):
    """The episode's sessions, a week apart, the world's own encounter first."""
    made = [world.own_encounter]
    for n in range(1, count):
        made.append(
            Encounter.objects.create(
                organisation=world.org,
                client=world.own_client,
                episode=world.own_episode,
                clinician=world.clinician,
                kind="therapy",
                starts_at=world.own_encounter.starts_at + timedelta(weeks=n),
            )
        )
    return made


def test_the_default_asks_phq9_and_gad7_before_and_the_alliance_check_after(world):
    assert plan_for(world.own_episode) == list(DEFAULT_PLAN)
    assert instruments_due(world.own_episode, world.own_encounter, "before") == ["phq9", "gad7"]
    assert instruments_due(world.own_episode, world.own_encounter, "after") == [
        "alliance-session-check"
    ]


def test_every_nth_intake_and_ending_schedules(world):
    actions.do_set_plan(
        world.actor(world.clinician),
        world.own_episode.pk,
        [
            PlanEntry("phq9", "before", "every_nth", 3),
            PlanEntry("gad7", "before", "intake"),
            PlanEntry("phq2", "before", "ending"),
        ],
    )
    sessions = _sessions(world, 5)
    due = [instruments_due(world.own_episode, s, "before") for s in sessions]
    assert due == [["phq9", "gad7"], [], [], ["phq9"], []]  # sessions 1 and 4
    world.own_episode.phase = "ending"
    world.own_episode.save(update_fields=["phase"])
    assert instruments_due(world.own_episode, sessions[1], "before") == ["phq2"]


def test_the_plan_form_saves_and_is_audited(world):
    http = signed_in(world.clinician)
    url = reverse("plan_edit", args=[world.own_client.pk, world.own_episode.pk])
    response = http.post(
        url,
        {
            "phq9-timing": "before",
            "phq9-schedule": "every",
            "alliance-session-check-timing": "after",
            "alliance-session-check-schedule": "every_nth",
            "alliance-session-check-every": "2",
        },
        follow=True,
    )
    assert "Measurement plan saved" in response.content.decode()
    saved = [(e.instrument_id, e.every_n) for e in plan_for(world.own_episode)]
    assert saved == [("alliance-session-check", 2), ("phq9", None)]  # after, then before
    assert AuditEntry.objects.filter(action="plan.change", client_id=world.own_client.pk).exists()


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [PlanEntry("core-10", "before", "every")],
        [PlanEntry("phq9", "during", "every")],
        [PlanEntry("phq9", "before", "every_nth", 1)],
        [PlanEntry("phq9", "before", "every"), PlanEntry("phq9", "before", "intake")],
    ],
)
def test_a_bad_plan_is_refused_and_the_old_one_kept(world, entries):
    with pytest.raises(ActionError):
        actions.do_set_plan(world.actor(world.clinician), world.own_episode.pk, entries)
    assert plan_for(world.own_episode) == list(DEFAULT_PLAN)
