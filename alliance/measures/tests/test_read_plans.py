"""The reads of an episode's history (the submission's link read, the alert rules' read, the
chart's series) look up each response's encounter by its key, so their cost follows the
episode's few responses, not the size of the clinic's encounter table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from alliance.alerts import fixed
from alliance.alerts.models import Status
from alliance.clients.models import Encounter, EncounterKind
from alliance.measures import actions, submit_sql, summary
from alliance.measures.models import Response, Source
from alliance.opaque import token_hash
from conftest import build_world

pytestmark = pytest.mark.usefixtures("committed_db")
ENCOUNTERS = 3000  # as many as the bench's demo clinic has; the planner hashed them all
MEASURES = 30  # in the one episode: the planner weighs a lookup per response against the hash


def _plan(sql: str, params: list[Any]) -> str:
    explain = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def _scans_encounters(plan: str) -> bool:
    """Whether the plan reads the encounter table other than row by row through its key (a
    sequential scan, or a walk along its whole index to merge with the responses)."""
    lines = plan.splitlines()
    if connection.vendor == "postgresql":
        return any(
            " on clients_encounter " in line
            and not (i + 1 < len(lines) and "Index Cond: (id = " in lines[i + 1])
            for i, line in enumerate(lines)
        )
    # SQLite: "SEARCH x USING INTEGER PRIMARY KEY (rowid=?)" by key, "SCAN x" whole (Django's
    # explain() puts the plan's ids first).
    for line in lines:
        words = line.split()
        if any(
            w == "SCAN" and words[i + 1 : i + 2] in (["x"], ["e"], ["U0"], ["clients_encounter"])
            for i, w in enumerate(words)
        ):
            return True
    return False


@pytest.fixture
def crowded():
    """An episode with thirty complete measures, in a clinic with thousands of encounters."""
    world = build_world()
    now = timezone.now()
    Encounter.objects.bulk_create(
        Encounter(
            organisation=world.other_org,
            client=world.other_org_client,
            episode=world.other_org_episode,
            clinician=world.outsider,
            starts_at=now - timedelta(minutes=n),
            kind=EncounterKind.THERAPY,
        )
        for n in range(ENCOUNTERS)
    )
    Response.objects.bulk_create(
        Response(
            organisation=world.org,
            client=world.own_client,
            episode=world.own_episode,
            encounter=world.own_encounter,
            instrument_id="phq9",
            instrument_version="1",
            source=Source.LINK,
            answers={},
            total=10 + n % 5,
            complete=True,
            submitted_at=now - timedelta(days=n),
        )
        for n in range(MEASURES)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return world


def test_the_link_read_finds_the_episodes_encounter_kinds_by_key(crowded):
    world = crowded
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    params = [True, True, Status.RESOLVED, token_hash(token)]
    plan = _plan(submit_sql._statement(connection.vendor), params)
    assert not _scans_encounters(plan), plan
    # And the read gives the episode's history in time order, with the kinds found.
    found = actions.peek(token)
    assert found.history.totals["phq9"] == [10 + n % 5 for n in reversed(range(MEASURES))]
    assert found.history.treatment["phq9"] == found.history.totals["phq9"]


def test_the_alert_rules_read_finds_the_episodes_encounter_kinds_by_key(crowded):
    world = crowded
    episode = world.own_episode.pk
    params: list[object] = [episode, True, "phq9", episode, Status.RESOLVED]
    plan = _plan(fixed._statement(connection.vendor, 1, False), params)
    assert not _scans_encounters(plan), plan
    history = fixed.read(episode, {"phq9"}, None)
    assert history.totals["phq9"] == [10 + n % 5 for n in reversed(range(MEASURES))]


def test_the_charts_series_finds_the_episodes_encounter_kinds_by_key(crowded):
    """The chart, the client's page, the ending summary and the client's own page draw on it."""
    episode = crowded.own_episode
    plan = summary.series_rows(episode).explain()
    assert not _scans_encounters(plan), plan
    [series] = summary.episode_series(episode)
    assert [p.total for p in series.points] == [10 + n % 5 for n in reversed(range(MEASURES))]
