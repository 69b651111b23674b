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
