"""Writing audit entries. Call record() inside the transaction of the change it records."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from alliance.audit import guards
from alliance.audit.context import request_id
from alliance.audit.models import AuditEntry, ChainHead, Outcome
from alliance.rows import Write, execute, insert, insert_columns, table, update

if TYPE_CHECKING:
    from alliance.accounts.actor import Actor
    from alliance.accounts.models import User

GENESIS = "0" * 64
_pending: ContextVar[_Batch | None] = ContextVar("audit_pending", default=None)
SYSTEM_CHAIN = 0
# Each organisation writes to LANES chains: chain = LANED + organisation id x LANES + lane (the
# first LANES hold events with no organisation). A thread keeps one lane, and the threads of a
# process take consecutive lanes, so concurrent requests of one clinic seldom wait for one
# chain head; the head stays locked from the append to the commit's end, its flush included.
# LANED puts the lanes clear of the single chain per organisation (chain = organisation id) that
# databases written before the lanes hold: those chains keep verifying, and nothing joins them.
LANES = 16
OBJECT_ID_LENGTH = AuditEntry._meta.get_field("object_id").max_length or 64
LANED = 1 << 32
_lanes = itertools.count()  # the threads of a process, numbered; the process id is added at use
_thread = threading.local()
_worker: tuple[int, int] | None = None  # (server worker number, threads per worker)


def server_worker(number: int, threads: int) -> None:
    """Called in each server worker as it starts: its threads take the lanes from
    number x threads on, so that the workers' threads (4 x 4 by default) have a lane each."""
    global _worker
    _worker = (number, threads)


class AuditWriteFailed(Exception):
    """The audit entry could not be written, so the read or change it records must not happen.

    Raised in place of the database's error, so that no caller mistakes it for a conflict of
    its own (an IntegrityError it knows how to answer); the request answers 503 and its
    transaction, with the change, is rolled back (see alliance.web.middleware).
    """

    detail = "Could not record this access; nothing was shown or changed. Try again."


def first_chain(organisation_id: int | None) -> int:
    """The first of the organisation's LANES chains (of events with no organisation, for None)."""
    return LANED + (organisation_id or SYSTEM_CHAIN) * LANES


def chain_of(organisation_id: int | None) -> int:
    """The chain this thread appends the organisation's entries to."""
    lane = getattr(_thread, "lane", None)
    if lane is None:
        # Outside the server, the pid read now (not at import: forked processes differ here).
        first = _worker[0] * _worker[1] if _worker else os.getpid()
        lane = _thread.lane = first + next(_lanes)
    return first_chain(organisation_id) + lane % LANES


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over every field of the entry and the hash of the one before it."""
    fields = [
        entry.chain,
        entry.seq,
        entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.actor_id,
        entry.actor_name,
        entry.organisation_id,
        entry.client_id,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.outcome,
        entry.request_id,
        entry.detail,
        entry.prev_hash,
    ]
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class EntryFields(TypedDict, total=False):
    """What an entry may say besides its action (every one optional)."""

    actor: Actor | None  # gives the user, and the organisation unless one is named
    user: User | None
    organisation_id: int | None
    client_id: int | None
    object_type: str
    object_id: object
    outcome: str
    detail: dict[str, Any] | None


def audit_entry(action: str, **fields: Unpack[EntryFields]) -> AuditEntry:
    """An entry on its organisation's chain, not yet numbered nor written (see `record`)."""
    unknown = fields.keys() - EntryFields.__optional_keys__
    if unknown:  # a misspelt field would otherwise leave the entry without what it names
        raise TypeError(f"an audit entry has no {', '.join(sorted(unknown))}")
    actor, user = fields.get("actor"), fields.get("user")
    organisation_id = fields.get("organisation_id")
    if actor is not None:
        user = actor.user
        organisation_id = actor.organisation_id if organisation_id is None else organisation_id
    return AuditEntry(
        chain=chain_of(organisation_id),
        at=timezone.now(),
        actor_id=user.pk if user is not None else None,
        actor_name=user.get_username() if user is not None else "",
        organisation_id=organisation_id,
        client_id=fields.get("client_id"),
        action=action,
        object_type=fields.get("object_type", ""),
        # An id from a URL can be any length; the entry keeps what its column holds, so the
        # hash covers exactly what is stored.
        object_id=str(fields.get("object_id", ""))[:OBJECT_ID_LENGTH],
        outcome=fields.get("outcome", Outcome.OK),
        request_id=request_id.get(),
        detail=fields.get("detail") or {},
    )


def record(action: str, **fields: Unpack[EntryFields]) -> AuditEntry:
    """Append one entry (see `audit_entry`) to its organisation's chain, in the caller's
    transaction.

    Inside `batch()` the entry is appended when the batch ends, with the others.
    """
    made = audit_entry(action, **fields)
    pending = _pending.get()
    if pending is not None and pending.depth == _depth():
        pending.entries.append(made)
    else:
        # Inside a transaction the batch did not open, the entry belongs to that transaction.
        _append([made])
    return made


@dataclass(frozen=True)
class Placed:
    """An entry numbered after the head its thread knows, for a caller that writes it in a
    statement of its own (PostgreSQL): `move` is the head's move, which changes a row only if
    the head is still the known one; the entry may go in only if it did."""

    chain: int
    head: tuple[int, str]  # the chain's head once the entry is in
    move: Write

    def written(self) -> None:
        """The statement wrote the entry and moved the head: the thread knows the new head."""
        _known_heads()[self.chain] = self.head


def after_known_head(entries: Sequence[AuditEntry]) -> Placed | None:
    """The entries, of one chain, numbered in turn after the head this thread last wrote on it;
    None when the thread knows none (then `record` them, which reads the head)."""
    chain = entries[0].chain
    if any(entry.chain != chain for entry in entries):
        raise ValueError("entries placed together belong to one chain")
    known = _known_heads().get(chain)
    if known is None:
        return None
    head = _linked(list(entries), *known)
    return Placed(chain, head, (_move_if_known(), [*head, chain, *known]))


@dataclass
class _Batch:
    depth: int  # how many atomic blocks were open when the batch began
    entries: list[AuditEntry] = field(default_factory=list)


def _depth() -> int:
    return len(transaction.get_connection().atomic_blocks)


@contextmanager
def batch() -> Iterator[None]:
    """Collect the entries written inside, and append them together as the block ends.

    Inside `transaction.atomic()`, the chain's head is then locked only for the last moment of
    the transaction instead of from its first audited step, so concurrent submissions of one
    clinic wait for each other as briefly as possible. Around a whole request (see
    AuditBatchMiddleware), the reads of one page are written in one short transaction, before
    the response leaves: if that write fails, the request fails. An entry recorded inside an
    inner transaction is still written in that transaction, with the change it records.
    """
    outer = _pending.get()
    if outer is not None and outer.depth == _depth():
        yield  # the outer batch, at this same level, appends them
        return
    token = _pending.set(_Batch(depth=_depth()))
    try:
        yield
        pending = _pending.get()
        entries = pending.entries if pending else []
    finally:
        _pending.reset(token)
    if entries:
        _append(entries)


def _append(entries: list[AuditEntry]) -> None:
    try:
        _append_to_chains(entries)
    except DatabaseError as exc:
        raise AuditWriteFailed("the audit entries could not be written") from exc


def _append_to_chains(entries: list[AuditEntry]) -> None:
    chains: dict[int, list[AuditEntry]] = {}
    for entry in entries:
        chains.setdefault(entry.chain, []).append(entry)
    # Outside a transaction, the append after a known head is one statement, atomic on its own:
    # a page's reads are then recorded in one round trip, with no BEGIN and COMMIT around it.
    alone = connection.get_autocommit() and len(chains) == 1 and _in_one_statement()
    if alone:
        chain, rows = next(iter(chains.items()))
        with _queued():
            head = _append_after_known_head(chain, rows)
        if head is not None:
            _known_heads()[chain] = head
            return
    with transaction.atomic(savepoint=False):
        for chain, rows in chains.items():
            head = None if alone else _append_after_known_head(chain, rows)
            if head is None:
                head = _linked(rows, *_locked_head(chain))
                # Where the triggers of audit.guards are in place they move the head as the
                # rows go in, and this writes the same values again.
                moved = f"UPDATE {table(ChainHead)} SET seq = %s, hash = %s WHERE chain = %s"  # noqa: S608
                insert(ENTRY_COLUMNS, rows, key="seq", then=(moved, [*head, chain]))
            _known_heads()[chain] = head


def _in_one_statement() -> bool:
    """Whether an append after a known head is one statement: on PostgreSQL (a data-modifying
    WITH), and on SQLite with the append triggers in place."""
    return connection.vendor == "postgresql" or guards.appends_by_trigger(connection)


def _queued() -> AbstractContextManager[None]:
    """The write outside a transaction waits in SQLite's writer queue (alliance.sqlite)."""
    queued: Callable[[], AbstractContextManager[None]] | None = getattr(
        connection, "queued_write", None
    )
    return queued() if queued is not None else nullcontext()


def _append_after_known_head(chain: int, rows: list[AuditEntry]) -> tuple[int, str] | None:
    """Append after the head this thread last wrote, in one statement: the entries go in only
    if the head is still that one (seq and hash), and they move it. A thread mostly has its
    lane to itself, so this mostly succeeds and spares reading the head; when another writer
    moved it, or this thread's transaction rolled back, nothing is written (None).

    On PostgreSQL the statement moves the head and inserts the entries only if it moved; on
    SQLite it is the INSERT alone, which the triggers of audit.guards check and follow (without
    them, the head's UPDATE and the INSERT in turn, in the caller's transaction)."""
    known = _known_heads().get(chain)
    if known is None:
        return None
    head = _linked(rows, *known)
    if guards.appends_by_trigger(connection):
        # An SQLite without RETURNING inserts through bulk_create, whose own atomic block would
        # leave the caller's transaction unusable after the refusal: a savepoint keeps it whole.
        returning = connection.features.can_return_rows_from_bulk_insert
        savepoint = connection.in_atomic_block and not returning
        try:
            with transaction.atomic() if savepoint else nullcontext():
                insert(ENTRY_COLUMNS, rows, key="seq")
        except IntegrityError as exc:
            if guards.HEAD_MOVED not in str(exc):
                raise
            return None
        return head
    if insert(ENTRY_COLUMNS, rows, key="seq", only_if=(_move_if_known(), [*head, chain, *known])):
        return head
    return None


def _known_heads() -> dict[int, tuple[int, str]]:
    """The (seq, hash) this thread last wrote at the head of each chain."""
    if not hasattr(_thread, "heads"):
        _thread.heads = {}
    heads: dict[int, tuple[int, str]] = _thread.heads
    return heads


def _linked(rows: list[AuditEntry], seq: int, previous: str) -> tuple[int, str]:
    """Number and hash the rows after the head (seq, hash); the new head."""
    for entry in rows:
        seq += 1
        entry.seq, entry.prev_hash = seq, previous
        entry.hash = previous = entry_hash(entry)
    return seq, previous


# Fixed statements (alliance.rows): every request that reads client data appends here.
# Also for a caller that writes an entry in a statement of its own (measures.submit_sql).
ENTRY_COLUMNS = insert_columns(AuditEntry)


def _move_if_known() -> str:
    """The head's move to (seq, hash), made only if it is still at the known (seq, hash)."""
    return (
        f"UPDATE {table(ChainHead)} SET seq = %s, hash = %s "  # noqa: S608
        "WHERE chain = %s AND seq = %s AND hash = %s"
    )


def _locked_head(chain: int) -> tuple[int, str]:
    """The chain's head (seq, hash), locked until the transaction ends, so entries never
    interleave (on SQLite the transaction already holds the database's write lock)."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    head = f"SELECT seq, hash FROM {table(ChainHead)} WHERE chain = %s{lock}"  # noqa: S608
    found = execute(head, [chain])
    if not found:
        start = (
            f"INSERT INTO {table(ChainHead)} (chain, seq, hash) VALUES (%s, 0, %s) "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        update(start, [chain, GENESIS])
        found = execute(head, [chain])
    seq, previous = found[0]
    return int(seq), str(previous)
