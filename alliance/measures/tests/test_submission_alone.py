"""Outside a transaction, a submission that opens no alert is written by one statement on
PostgreSQL (submit_sql.claim_store_and_record): all of it or, when it cannot be, none of it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alliance.alerts.models import Alert, Kind
from alliance.audit import log
from alliance.audit.models import AuditEntry, ChainHead
from alliance.audit.verify import verify_all
from alliance.measures import actions
from alliance.measures.models import MeasureLink, Response
from conftest import build_world

pytestmark = pytest.mark.usefixtures("committed_db")
WRITES = ("INSERT", "UPDATE", "WITH", "DELETE")


def quiet() -> dict[str, dict[str, int]]:
    """Answers that open no alert: no risk item, and a first measure of the episode."""
    return {
        "phq9": {f"item{n}": 0 for n in range(1, 10)},
        "gad7": {f"item{n}": 0 for n in range(1, 8)},
    }


def risky() -> dict[str, dict[str, int]]:
    answers = quiet()
    answers["phq9"]["item9"] = 2
    return answers


def _link(world):
    # Creating the link is audited outside a transaction too: the thread then knows its head.
    return actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )


def _writes(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().startswith(WRITES)]


def _entries(link) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="response.submit", object_id=str(link.pk)))


def test_a_quiet_submission_is_stored_whole_and_audited_and_the_chain_verifies():
    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)

    with CaptureQueriesContext(connection) as captured:
        submitted = actions.submit(token, quiet())

    stored = Response.objects.filter(link=link)
    assert sorted(r.pk for r in stored) == sorted(r.pk for r in submitted.responses)
    assert {r.instrument_id: r.total for r in stored} == {"phq9": 0, "gad7": 0}
    assert MeasureLink.objects.get(pk=link.pk).completed_at is not None
    [entry] = _entries(link)
    assert entry.client_id == world.own_client.pk
    assert entry.detail == {"instruments": ["phq9", "gad7"]}
    head = ChainHead.objects.get(chain=entry.chain)
    assert (head.seq, head.hash) == (entry.seq, entry.hash)
    writes = _writes(captured)
    if connection.vendor == "postgresql":
        assert len(writes) == 1, writes
        assert all(t in writes[0] for t in ("measures_response", "audit_auditentry"))
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_a_two_measure_submission_stays_within_the_parameters_psycopg_keeps_parsed(monkeypatch):
    """psycopg parses a statement's placeholders again each time unless it has at most 50
    parameters; the responses' shared values are given once to stay within them."""
    from alliance import rows
    from alliance.measures import submit_sql

    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)
    sent: list[int] = []
    execute = rows.execute

    def counting(sql, params):
        if sql.startswith("WITH open"):
            sent.append(len(params))
        return execute(sql, params)

    monkeypatch.setattr(submit_sql, "execute", counting)
    actions.submit(token, quiet())

    stored = Response.objects.filter(link=link)
    assert {r.instrument_id: (r.link_id, r.episode_id, r.timing) for r in stored} == {
        "phq9": (link.pk, world.own_episode.pk, "before"),
        "gad7": (link.pk, world.own_episode.pk, "before"),
    }
    if connection.vendor == "postgresql":
        import psycopg._queries

        assert psycopg._queries.MAX_CACHED_STATEMENT_PARAMS == 50
        assert len(sent) == 1
        assert sent[0] <= 50
    else:  # SQLite has no data-modifying WITH: the ordinary way
        assert sent == []


def test_when_another_writer_moved_the_head_it_writes_nothing_and_the_ordinary_way_stores_it():
    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)
    stale = dict(log._thread.heads)
    log._thread.heads = {}  # as another writer on the same lane
    log.record("test.other", organisation_id=world.org.pk)
    log._thread.heads = stale

    with CaptureQueriesContext(connection) as captured:
        submitted = actions.submit(token, quiet())

    assert not submitted.repeated
    assert Response.objects.filter(link=link).count() == 2
    if connection.vendor == "postgresql":  # the one statement was tried first, and wrote nothing
        writes = [sql.split(" AS ", 1)[0] for sql in _writes(captured)]
        assert writes[0] == "WITH open", writes
        assert len(writes) > 1, writes
    assert len(_entries(link)) == 1
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_a_sender_who_lost_the_claim_writes_nothing_and_moves_no_head():
    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)
    seen_by_both = actions.peek(token).link
    first = actions.submit(token, quiet(), link=seen_by_both)
    [entry] = _entries(link)

    late = actions.submit(token, quiet(), link=seen_by_both)  # its copy still looks open

    assert not first.repeated
    assert late.repeated
    assert Response.objects.filter(link=link).count() == 2
    assert _entries(link) == [entry]
    head = ChainHead.objects.get(chain=entry.chain)
    assert (head.seq, head.hash) == (entry.seq, entry.hash)
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_a_submission_that_opens_an_alert_writes_it_with_the_answers():
    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)

    submitted = actions.submit(token, risky())

    assert submitted.risk
    assert Response.objects.filter(link=link).count() == 2
    assert Alert.objects.filter(client=world.own_client, kind=Kind.RISK).count() == 1
    assert len(_entries(link)) == 1
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_when_the_audit_entry_cannot_be_written_nothing_is_stored_and_the_trail_says_so():
    """The one statement fails whole; the ordinary way then answers as it always does."""
    from alliance.audit.log import AuditWriteFailed
    from tests.test_audit_coverage import audit_inserts_refused

    world = build_world()
    Alert.objects.all().delete()
    link, token = _link(world)

    with audit_inserts_refused(), pytest.raises(AuditWriteFailed):
        actions.submit(token, quiet())

    assert not Response.objects.filter(link=link).exists()
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None
    assert _entries(link) == []
    verdict = verify_all()
    assert verdict.ok, verdict.line()


# --- a submission whose only alert work is refreshing an open alert that notifies nobody -----


def deteriorated() -> dict[str, dict[str, int]]:
    """PHQ-9 16 with no risk answer: 14 points above an intake of 2, a reliable deterioration
    (a change of 6 or more; see alerts.rules); GAD-7 has no earlier total, so no signal."""
    answers = quiet()
    answers["phq9"].update({f"item{n}": 2 for n in range(1, 9)})
    return answers


def _open_deterioration(episode) -> Alert:
    """An intake PHQ-9 of 2, and a deterioration alert already open on the episode."""
    from datetime import timedelta

    from django.utils import timezone

    from conftest import scored_response

    intake = scored_response(episode, "phq9", 2, "minimal", timezone.now() - timedelta(days=14))
    return _open_alert(episode, Kind.DETERIORATION, intake, {"intake": 2, "latest": 9})


def _open_alert(episode, kind: str, response, facts: dict[str, object]) -> Alert:
    """An unresolved alert of this kind on the episode, opened at an earlier session."""
    from django.utils import timezone

    from alliance.alerts.models import PRIORITY, Status

    return Alert.objects.create(
        organisation=episode.organisation,
        client=episode.client,
        episode=episode,
        response=response,
        kind=kind,
        priority=PRIORITY[Kind(kind)],
        status=Status.OPEN,
        opened_at=timezone.now(),
        reason="opened at an earlier session",
        facts=facts,
    )


def _trail(link, alert) -> list[tuple[str, str, dict[str, object]]]:
    """The submission's audit entries in chain order: what, on what, with what detail."""
    entries = AuditEntry.objects.filter(
        action__in=["response.submit", "alert.refresh", "alert.open"],
        client_id=alert.client_id,
    ).order_by("chain", "seq")
    return [(e.action, e.object_id, e.detail) for e in entries]


def test_a_submission_that_only_refreshes_an_alert_writes_it_in_the_one_statement():
    world = build_world()
    Alert.objects.all().delete()
    alert = _open_deterioration(world.own_episode)
    link, token = _link(world)

    with CaptureQueriesContext(connection) as captured:
        submitted = actions.submit(token, deteriorated())

    assert not submitted.risk
    phq9 = Response.objects.get(link=link, instrument_id="phq9")
    assert phq9.total == 16
    alert.refresh_from_db()
    assert (alert.kind, alert.status, alert.version) == (Kind.DETERIORATION, "open", 2)
    assert alert.response_id == phq9.pk
    assert alert.reason.startswith("PHQ-9 went from 2 at intake to 16 now (+14)")
    assert alert.facts == {"intake": 2, "latest": 16, "threshold": 6}
    assert Alert.objects.count() == 1
    assert _trail(link, alert) == [
        ("alert.refresh", str(alert.pk), {"kind": "deterioration"}),
        ("response.submit", str(link.pk), {"instruments": ["phq9", "gad7"]}),
    ]
    if connection.vendor == "postgresql":
        [write] = _writes(captured)
        assert all(t in write for t in ("alerts_alert", "measures_response", "audit_auditentry"))
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_the_one_statement_refreshes_as_the_ordinary_way_does():
    """The same submission on two like episodes: one alone (the one statement on PostgreSQL),
    one inside a transaction (always the ordinary way)."""
    from django.db import transaction

    world = build_world()
    Alert.objects.all().delete()
    alone = _open_deterioration(world.own_episode)
    ordinary = _open_deterioration(world.other_team_episode)
    own_link, own_token = _link(world)
    other_link, other_token = actions.do_create_link(
        world.actor(world.colleague),
        world.other_team_encounter.pk,
        timing="before",
        send_email=False,
    )

    opened = {alone.pk: alone.opened_at, ordinary.pk: ordinary.opened_at}

    with CaptureQueriesContext(connection) as captured:
        actions.submit(own_token, deteriorated())
    if connection.vendor == "postgresql":  # the one statement, not the ordinary way
        [write] = _writes(captured)
        assert write.startswith("WITH open")
    with transaction.atomic():
        actions.submit(other_token, deteriorated())

    alone.refresh_from_db()
    ordinary.refresh_from_db()
    fields = ("kind", "status", "version", "reason", "facts", "acknowledged_at")
    assert [getattr(alone, f) for f in fields] == [getattr(ordinary, f) for f in fields]
    assert {a.pk: a.opened_at for a in (alone, ordinary)} == opened  # a refresh keeps it
    answered = Response.objects.filter(pk__in=[alone.response_id, ordinary.response_id])
    assert sorted((r.instrument_id, r.link_id) for r in answered) == [
        ("phq9", own_link.pk),
        ("phq9", other_link.pk),
    ]

    def shape(trail):
        return [(action, detail) for action, _, detail in trail]

    assert shape(_trail(own_link, alone)) == shape(_trail(other_link, ordinary))
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_an_alert_resolved_after_the_read_is_left_alone_and_a_new_one_opens():
    from alliance.alerts.models import Status

    world = build_world()
    Alert.objects.all().delete()
    alert = _open_deterioration(world.own_episode)
    link, token = _link(world)
    found = actions.peek(token)  # the history read sees the alert open
    assert found.history.open_ids == {"deterioration": alert.pk}
    Alert.objects.filter(pk=alert.pk).update(status=Status.RESOLVED)  # the clinician, meanwhile

    with CaptureQueriesContext(connection) as captured:
        actions.submit(
            token, deteriorated(), link=found.link, clinic=found.clinic, history=found.history
        )

    alert.refresh_from_db()
    assert (alert.status, alert.version, alert.reason) == (
        "resolved",
        1,
        "opened at an earlier session",
    )
    [new] = Alert.objects.exclude(pk=alert.pk)
    assert (new.kind, new.status) == (Kind.DETERIORATION, "open")
    assert new.response == Response.objects.get(link=link, instrument_id="phq9")
    if connection.vendor == "postgresql":  # the one statement was tried first, and wrote nothing
        writes = [sql.split(" AS ", 1)[0] for sql in _writes(captured)]
        assert writes[0] == "WITH open", writes
        assert len(writes) > 1, writes
    assert [a for a, _, _ in _trail(link, alert)] == ["alert.open", "response.submit"]
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_two_alerts_of_different_kinds_are_refreshed_together():
    """PHQ-9 deteriorated (16 after an intake of 2) and GAD-7 not on track (10 at the fourth
    measured session, no better than at intake; cut-off 8, reliable change 4; see
    alerts.rules): both alerts open already, so both are refreshed, in the rules' order."""
    from datetime import timedelta

    from django.utils import timezone

    from conftest import scored_response

    world = build_world()
    Alert.objects.all().delete()
    episode = world.own_episode
    deterioration = _open_deterioration(episode)
    for days in (21, 14, 7):
        scored_response(episode, "gad7", 10, "moderate", timezone.now() - timedelta(days=days))
    on_track = _open_alert(episode, Kind.NOT_ON_TRACK, None, {})
    link, token = _link(world)
    answers = deteriorated()
    answers["gad7"].update({f"item{n}": 2 for n in range(1, 6)})  # 10

    with CaptureQueriesContext(connection) as captured:
        actions.submit(token, answers)

    stored = {r.instrument_id: r for r in Response.objects.filter(link=link)}
    deterioration.refresh_from_db()
    on_track.refresh_from_db()
    assert (deterioration.version, deterioration.response_id) == (2, stored["phq9"].pk)
    assert (on_track.version, on_track.response_id) == (2, stored["gad7"].pk)
    assert on_track.reason.startswith("GAD-7 is 10 at measured session 4")
    assert Alert.objects.count() == 2
    assert _trail(link, deterioration) == [
        ("alert.refresh", str(deterioration.pk), {"kind": "deterioration"}),
        ("alert.refresh", str(on_track.pk), {"kind": "not_on_track"}),
        ("response.submit", str(link.pk), {"instruments": ["phq9", "gad7"]}),
    ]
    if connection.vendor == "postgresql":
        [write] = _writes(captured)
        assert write.startswith("WITH open")
    verdict = verify_all()
    assert verdict.ok, verdict.line()
