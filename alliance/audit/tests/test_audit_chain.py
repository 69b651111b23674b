"""The audit trail is append-only and hash-chained; any tampering is caught by the verifier."""

from __future__ import annotations

import itertools
import random
import threading

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from alliance.audit import log
from alliance.audit.log import record
from alliance.audit.models import AppendOnlyError, AuditEntry, ChainHead
from alliance.audit.verify import verify_all
from alliance.cli import main as cli_main

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_lane(monkeypatch, request):
    """One chain per clinic (log.first_chain) for the chain's mechanics; the lanes themselves
    are tested below with their real number."""
    if "lanes" not in request.node.name:
        monkeypatch.setattr(log, "LANES", 1)


def _fill(count: int = 12) -> list[AuditEntry]:
    entries = []
    for n in range(count):
        entries.append(
            record(
                "test.event",
                organisation_id=1 + n % 2,
                client_id=n,
                object_type="thing",
                object_id=n,
                detail={"n": n},
            )
        )
    return entries


def _drop_guards() -> None:
    """An attacker with database access removes the append-only triggers first."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER audit_entry_no_update")
            cursor.execute("DROP TRIGGER audit_entry_no_delete")


def test_it_verifies_an_untouched_trail():
    _fill()
    verdict = verify_all()
    assert verdict.ok, verdict.line()
    assert verdict.checked == 12
    assert verdict.line() == "OK: 12 audit entries in 2 chains verified"


def test_it_chains_each_entry_to_the_one_before():
    entries = _fill(3)
    first, second = entries[0], entries[2]  # entries alternate between organisations 1 and 2
    assert first.seq == 1
    assert second.seq == 2
    assert second.prev_hash == first.hash


def test_it_refuses_updates_and_deletes_through_the_orm():
    entry = _fill(1)[0]
    entry.action = "something.else"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def test_it_refuses_updates_and_deletes_in_the_database_itself():
    entry = _fill(1)[0]
    for sql in (
        "UPDATE audit_auditentry SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.event"


def _tamper(rng: random.Random, entries: list[AuditEntry]) -> str:
    victim = rng.choice(entries)
    kind = rng.choice(["edit", "edit_detail", "delete", "reorder", "delete_tail"])
    with connection.cursor() as cursor:
        if kind == "edit":
            field = rng.choice(["action", "object_id", "actor_name", "outcome"])
            cursor.execute(
                f"UPDATE audit_auditentry SET {field} = 'tampered' WHERE id = %s",
                [victim.pk],
            )
        elif kind == "edit_detail":
            cursor.execute("UPDATE audit_auditentry SET client_id = 999 WHERE id = %s", [victim.pk])
        elif kind == "delete":
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
        elif kind == "delete_tail":
            tail = max((e for e in entries if e.chain == victim.chain), key=lambda e: e.seq)
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [tail.pk])
        else:
            same_chain = [e for e in entries if e.chain == victim.chain and e.pk != victim.pk]
            other = rng.choice(same_chain)
            # Swap two entries' positions: their content moves, their ids stay.
            cursor.execute("UPDATE audit_auditentry SET seq = -1 WHERE id = %s", [victim.pk])
            for a, b in ((other, victim), (victim, other)):
                cursor.execute(
                    "UPDATE audit_auditentry SET seq = %s, action = %s, object_id = %s, "
                    "prev_hash = %s, hash = %s, client_id = %s WHERE id = %s",
                    [b.seq, b.action, b.object_id, b.prev_hash, b.hash, b.client_id, a.pk],
                )
    return kind


@pytest.mark.parametrize("trial", range(40))
def test_it_catches_every_random_edit_deletion_and_reordering(trial):
    rng = random.Random(trial)
    entries = _fill(rng.randint(4, 12))
    _drop_guards()
    kind = _tamper(rng, entries)
    verdict = verify_all()
    assert not verdict.ok, f"tampering not detected: {kind}"
    assert verdict.line().startswith("BROKEN")


def test_it_names_the_first_broken_entry():
    entries = _fill(6)
    _drop_guards()
    chain_one = [e for e in entries if e.chain == log.first_chain(1)]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditentry SET action = 'edited' WHERE id = %s", [chain_one[1].pk]
        )
    verdict = verify_all()
    assert verdict.broken_entry_id == chain_one[1].pk
    assert "edited" in verdict.problem or "hash" in verdict.problem


def test_the_command_prints_ok_or_the_break_and_sets_the_exit_code(capsys):
    entries = _fill(4)
    assert cli_main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: 4 audit entries")
    _drop_guards()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [entries[1].pk])
    assert cli_main(["audit", "verify"]) == 1
    assert capsys.readouterr().out.startswith("BROKEN")


def test_a_chain_head_keeps_the_newest_entry():
    entries = _fill(5)
    head = ChainHead.objects.get(chain=log.first_chain(1))
    newest = max((e for e in entries if e.chain == log.first_chain(1)), key=lambda e: e.seq)
    assert (head.seq, head.hash) == (newest.seq, newest.hash)


def test_threads_of_one_clinic_append_to_separate_lanes_and_each_lane_verifies(monkeypatch):
    """Concurrent requests of one clinic take different chains, so none waits for another's
    commit to end; the clinic's entries are all found by its organisation, and every lane checks."""
    chains: list[int] = []
    threads = [threading.Thread(target=lambda: chains.append(log.chain_of(7))) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()
    assert len(set(chains)) == 3  # three threads, three lanes
    assert all(log.first_chain(7) <= chain < log.first_chain(8) for chain in chains)
    assert log.chain_of(7) == log.chain_of(7)  # a thread keeps its lane
    assert log.chain_of(None) < log.first_chain(1)  # events with no organisation
    for lane in range(3):  # this thread writes as each of three threads would
        monkeypatch.setattr(log._thread, "lane", lane)
        for n in range(2):
            record("test.event", organisation_id=7, object_id=n)
    written = AuditEntry.objects.filter(organisation_id=7)
    assert sorted(written.values_list("chain", "seq")) == [
        (log.first_chain(7) + lane, seq) for lane in range(3) for seq in (1, 2)
    ]
    verdict = verify_all()
    assert verdict.line() == "OK: 6 audit entries in 3 chains verified"


def _one(n: int) -> AuditEntry:
    return record("test.event", organisation_id=3, client_id=n, object_type="thing", object_id=n)


def test_a_thread_appends_after_the_head_it_last_wrote_without_reading_it():
    from django.test.utils import CaptureQueriesContext

    _one(1)  # the thread learns its lane's head
    with CaptureQueriesContext(connection) as second:
        _one(2)
    assert not [q for q in second.captured_queries if q["sql"].startswith("SELECT")]
    assert verify_all().ok


def test_an_append_after_another_writer_moved_the_head_still_links_to_the_real_head():
    first = _one(1)
    stale = dict(log._thread.heads)  # this thread believes the head is its first entry
    log._thread.heads = {}  # as another writer on the same lane, which reads the head
    other = _one(2)
    log._thread.heads = stale

    third = _one(3)

    assert (third.seq, third.prev_hash) == (other.seq + 1, other.hash)
    assert other.prev_hash == first.hash
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def _append_then_fail() -> None:
    with transaction.atomic():
        _one(2)  # the thread now believes the head is this entry
        raise RuntimeError("the change it recorded failed")


def test_an_append_after_a_rolled_back_one_links_to_what_was_kept():
    kept = _one(1)
    with pytest.raises(RuntimeError):
        _append_then_fail()
    stale = dict(log._thread.heads)  # seq 2, of the entry rolled back

    after = _one(3)

    assert (after.seq, after.prev_hash) == (kept.seq + 1, kept.hash)
    # The head is at seq 2 again, with another hash: the same seq alone must not pass.
    log._thread.heads = stale
    last = _one(4)
    assert (last.seq, last.prev_hash) == (after.seq + 1, after.hash)
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_the_threads_of_a_server_worker_take_lanes_of_their_own(monkeypatch):
    """Server workers number their threads' lanes from worker number x threads (see
    alliance.server), so the default 4 workers x 4 threads write to the 16 lanes one each."""
    lanes: set[int] = set()
    for number in (1, 2, 3, 4):
        monkeypatch.setattr(log, "_worker", None)
        log.server_worker(number, 4)
        monkeypatch.setattr(log, "_lanes", itertools.count())

        def take() -> None:
            lanes.add(log.chain_of(7) - log.first_chain(7))

        threads = [threading.Thread(target=take) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert lanes == set(range(log.LANES))


def test_an_id_longer_than_its_column_is_kept_as_stored_and_the_chain_verifies():
    """A refused URL can carry a 70-digit id: the entry keeps the first 64 characters, and the
    hash covers exactly those, on the known-head path too."""
    _one(1)
    long_id = "9" * 70
    entry = record("client.view", organisation_id=3, object_type="client", object_id=long_id)

    assert entry.object_id == long_id[: log.OBJECT_ID_LENGTH]
    assert AuditEntry.objects.get(pk=entry.pk).object_id == entry.object_id
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_the_server_numbers_each_workers_lanes_as_it_starts(monkeypatch):
    from types import SimpleNamespace

    from alliance import server

    hook = server.gunicorn_options("127.0.0.1", 8000, 4)["post_fork"]
    monkeypatch.setattr(log, "_worker", None)
    hook(None, SimpleNamespace(age=3))  # as gunicorn calls it in a new worker
    assert log._worker == (3, server.THREADS)


@pytest.mark.usefixtures("committed_db")
def test_outside_a_transaction_an_append_after_a_known_head_is_one_statement():
    """A page's reads are recorded after the request's view, outside any transaction: the
    append is then a single statement (atomic on its own), with no BEGIN or COMMIT around."""
    from django.test.utils import CaptureQueriesContext

    _one(1)  # the thread learns its lane's head
    with CaptureQueriesContext(connection) as second:
        two = _one(2)

    assert len(second.captured_queries) == 1, second.captured_queries
    assert second.captured_queries[0]["sql"].startswith(("INSERT", "WITH"))
    assert ChainHead.objects.get(chain=two.chain).seq == two.seq
    verdict = verify_all()
    assert verdict.ok, verdict.line()


@pytest.mark.usefixtures("committed_db")
def test_outside_a_transaction_an_append_after_a_moved_head_links_to_the_real_one():
    first = _one(1)
    stale = dict(log._thread.heads)
    log._thread.heads = {}  # as another writer on the same lane
    other = _one(2)
    log._thread.heads = stale

    third = _one(3)

    assert other.prev_hash == first.hash
    assert (third.seq, third.prev_hash) == (other.seq + 1, other.hash)
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_a_batch_of_entries_on_one_chain_moves_the_head_to_the_last():
    _one(1)
    with log.batch():
        entries = [_one(n) for n in (2, 3, 4)]

    head = ChainHead.objects.get(chain=entries[0].chain)
    assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_an_entry_after_a_head_that_is_not_the_chains_is_refused_and_the_head_stays():
    """The head is checked where the entry is written: on SQLite by the triggers of
    audit.guards (any INSERT), on PostgreSQL by the gate in the append's own statement. A wrong
    hash at the right seq is refused."""
    kept = _one(1)
    forged = AuditEntry(
        chain=kept.chain,
        at=kept.at,
        action="forged",
        outcome=kept.outcome,
        request_id="",
        detail={},
    )
    log._thread.heads = {kept.chain: (kept.seq, "f" * 64)}

    with transaction.atomic():
        assert log._append_after_known_head(kept.chain, [forged]) is None

    assert not AuditEntry.objects.filter(action="forged").exists()
    head = ChainHead.objects.get(chain=kept.chain)
    assert (head.seq, head.hash) == (kept.seq, kept.hash)


def test_without_the_append_triggers_the_chain_stays_whole_and_a_migrate_puts_them_back():
    """On SQLite a migration that rebuilds the audit table drops its triggers; appends then move
    the head themselves, and the post_migrate handler installs the triggers again."""
    from django.core.management.sql import emit_post_migrate_signal

    from alliance.audit import guards

    _one(1)
    guards.remove_append(connection)
    assert not guards.appends_by_trigger(connection)
    _one(2)  # after the known head
    with transaction.atomic():
        log._thread.heads = {}  # and after a head read under its lock
        last = _one(3)
    head = ChainHead.objects.get(chain=last.chain)
    assert (head.seq, head.hash) == (last.seq, last.hash)

    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)

    assert guards.appends_by_trigger(connection) == (connection.vendor == "sqlite")
    after = _one(4)
    head = ChainHead.objects.get(chain=after.chain)
    assert (head.seq, head.hash) == (after.seq, after.hash)
    verdict = verify_all()
    assert verdict.ok, verdict.line()


def test_a_misspelt_field_of_an_entry_is_refused_not_dropped():
    with pytest.raises(TypeError, match="objectid"):
        log.audit_entry("test.event", organisation_id=3, objectid=7)  # type: ignore[call-arg]
    assert not AuditEntry.objects.filter(action="test.event").exists()
