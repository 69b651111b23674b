"""Fixed SQL on the hot paths (alliance/rows.py) reads and writes what the ORM would."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from alliance.accounts.models import clinic_settings
from alliance.alerts.models import Alert, Kind, Status
from alliance.clients.models import Client
from alliance.measures import actions, submit_sql
from alliance.measures.models import MeasureLink, Response
from alliance.opaque import token_hash
from alliance.rows import Columns, all_columns, execute, insert, insert_columns, table

pytestmark = pytest.mark.django_db


def _fields(instance):
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_submission_read_gives_what_the_orm_gives(world):
    clinic_settings(world.org.pk)
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    found = submit_sql.find(token_hash(token))
    assert found is not None
    link = MeasureLink.objects.select_related("encounter__episode").get(
        token_hash=token_hash(token)
    )

    assert _fields(found.link) == _fields(link)  # datetimes, JSON and nulls alike
    assert _fields(found.link.encounter) == _fields(link.encounter)
    assert _fields(found.link.encounter.episode) == _fields(link.encounter.episode)
    assert found.clinic is not None
    assert _fields(found.clinic) == _fields(clinic_settings(world.org.pk))
    assert not found.link._state.adding


def test_a_clinic_without_saved_settings_reads_as_none(world):
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    type(clinic_settings(world.org.pk)).objects.filter(organisation=world.org).delete()

    found = submit_sql.find(token_hash(token))

    assert found is not None
    assert found.clinic is None


def test_some_columns_load_in_the_models_order_whatever_order_they_are_named_in(world):
    flag = Columns(Alert, ["reason", "id", "status", "kind"])  # not the model's order
    statement = f"SELECT {flag.select('a')} FROM {table(Alert)} a WHERE a.id = %s"

    alert = flag.load(execute(statement, [world.own_alert.pk])[0])

    assert (alert.pk, alert.kind, alert.status, alert.reason) == (
        world.own_alert.pk,
        world.own_alert.kind,
        world.own_alert.status,
        world.own_alert.reason,
    )
    with pytest.raises(ValueError, match="not all concrete fields"):
        Columns(Client, ["display_name", "episodes"])  # a relation held by other rows


def test_an_insert_gated_on_a_write_that_changed_nothing_inserts_nothing(world):
    new = Alert(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        kind=Kind.RUPTURE,
        priority=3,
        reason="gated",
        opened_at=timezone.now(),
    )
    nothing = (f"UPDATE {table(Alert)} SET version = version WHERE id = %s", [0])
    before = Alert.objects.count()

    assert not insert(insert_columns(Alert), [new], key="kind", only_if=nothing)
    assert Alert.objects.count() == before
    assert new.pk is None

    something = (
        f"UPDATE {table(Alert)} SET version = version WHERE id = %s",
        [world.own_alert.pk],
    )
    assert insert(insert_columns(Alert), [new], key="kind", only_if=something)
    stored = Alert.objects.get(pk=new.pk)
    assert (stored.reason, stored.status, stored.facts) == ("gated", Status.OPEN, {})


def test_every_column_is_selected_once_with_the_primary_key(world):
    columns = all_columns(MeasureLink)
    names = columns.select("l").split(", ")
    assert len(names) == len(set(names)) == len(MeasureLink._meta.concrete_fields)
    assert connection.ops.quote_name("id") in names[0]


def test_the_visibility_condition_finds_the_same_clients_as_the_queryset_for_every_role(world):
    from alliance.clients.access import visible_clients, visible_clients_sql
    from alliance.clients.models import CareTeamMember

    # An ended place on a care team shows nothing, in both.
    CareTeamMember.objects.filter(membership=world.consultant).update(ended_at=timezone.now())
    members = [
        world.clinician,
        world.colleague,
        world.consultant,
        world.coordinator,
        world.admin,
        world.outsider,
    ]
    seen = set()
    for member in members:
        actor = world.actor(member)
        condition, params = visible_clients_sql(actor, "c")
        statement = f"SELECT c.id FROM {table(Client)} c WHERE {condition}"
        by_sql = {pk for (pk,) in execute(statement, params)}
        assert by_sql == set(visible_clients(actor).values_list("pk", flat=True)), member
        seen.add(frozenset(by_sql))
    assert len(seen) >= 3  # the roles see different clients: the comparison means something


def test_the_caseloads_first_order_in_sql_gives_the_querysets_ids_page_by_page(world):
    """measures.caseload_sql.by_attention against the ORM's rendering of the same order: the
    most urgent unresolved alert first (resolved ones count for nothing), then name, then id."""
    from alliance.clients.access import list_clients, list_clients_sql
    from alliance.clients.models import CareRole, CareTeamMember, Episode
    from alliance.measures.caseload import ORDER, _alert_priority
    from alliance.measures.caseload_sql import by_attention

    priorities = [None, 3, 1, None, 2, 1, (1, Status.RESOLVED), 2, (4, Status.ACKNOWLEDGED)]
    for n, given in enumerate(priorities):
        client = Client.objects.create(
            organisation=world.org,
            team=world.team,
            display_name="Same Name" if n % 3 == 0 else f"Client {9 - n}",
            record_number=f"R-{n}",
        )
        CareTeamMember.objects.create(
            organisation=world.org,
            client=client,
            membership=world.clinician,
            care_role=CareRole.LEAD,
        )
        if given is None:
            continue
        priority, status = given if isinstance(given, tuple) else (given, Status.OPEN)
        episode = Episode.objects.create(
            organisation=world.org, client=client, opened_on=timezone.localdate()
        )
        Alert.objects.create(
            organisation=world.org,
            client=client,
            episode=episode,
            kind=Kind.RUPTURE,
            priority=priority,
            status=status,
            opened_at=timezone.now(),
            reason="test",
        )
    for member in (world.clinician, world.coordinator, world.consultant, world.outsider):
        actor = world.actor(member)
        ordered = list_clients(actor).annotate(attention=_alert_priority())
        by_orm = list(
            ordered.order_by(*ORDER["attention"], "display_name", "pk").values_list("pk", flat=True)
        )
        by_sql = []
        for offset in range(0, len(by_orm) + 3, 3):  # pages of 3, and one past the end
            by_sql += by_attention(*list_clients_sql(actor, "c"), offset=offset, limit=3)
        assert by_sql == by_orm, member
    clinician = world.actor(world.clinician)
    mine = by_attention(*list_clients_sql(clinician, "c"), offset=0, limit=50)
    assert len(mine) == len(priorities) + 1  # the world's own client too: the test means something


def test_the_history_read_with_the_link_is_the_one_the_alert_rules_read(world):
    """submit_sql.find brings the episode's history in its own statement; it must be what
    alerts.fixed.read gives: totals in time order (not id order), follow-up check-ins kept out
    of the treatment totals, incomplete answers left out, unresolved alerts only."""
    from datetime import timedelta

    from alliance.alerts import fixed
    from alliance.clients.models import Encounter, EncounterKind
    from conftest import scored_response

    episode, now = world.own_episode, timezone.now()
    check_in = Encounter.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=episode,
        starts_at=now,
        kind=EncounterKind.FOLLOW_UP,
    )
    given = [  # (instrument, total, days ago, at a check-in?)
        ("phq9", 18, 20, False),
        ("gad7", 12, 20, False),
        ("phq9", 15, 13, False),
        ("alliance-session-check", 31, 13, False),
        ("phq9", 9, 2, True),
        ("phq9", 21, 27, False),  # stored last, yet the earliest: the intake
        ("gad7", 10, 6, False),
    ]
    for instrument_id, total, ago, at_check_in in given:
        scored_response(
            episode,
            instrument_id,
            total,
            "",
            now - timedelta(days=ago, microseconds=ago),
            encounter=check_in if at_check_in else world.own_encounter,
        )
    # Two in one second, stored in reverse: one on the second exactly (a time written without
    # a fraction), one half a second later.
    second = (now - timedelta(days=1)).replace(microsecond=0)
    scored_response(episode, "gad7", 8, "", second + timedelta(microseconds=500_000))
    scored_response(episode, "gad7", 7, "", second)
    unfinished = scored_response(episode, "phq9", 3, "", now)
    Response.objects.filter(pk=unfinished.pk).update(complete=False)
    Alert.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=episode,
        kind=Kind.RUPTURE,
        priority=3,
        status=Status.RESOLVED,
        opened_at=now,
        reason="resolved, so not open",
    )
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )

    found = submit_sql.find(token_hash(token))
    assert found is not None
    every = {instrument_id for instrument_id, *_ in given}
    read = fixed.read(episode.pk, every, None)

    assert found.history.totals == read.totals
    assert found.history.treatment == read.treatment
    assert found.history.open_ids == read.open_ids
    assert read.totals["phq9"] == [21, 18, 15, 9]  # the comparison means something
    assert read.treatment["phq9"] == [21, 18, 15]
    assert read.totals["gad7"] == [12, 10, 7, 8]
    assert read.open_ids == {Kind.RISK: world.own_alert.pk}
