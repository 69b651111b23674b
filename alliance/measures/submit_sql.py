"""The client's submission in fixed statements (see alliance.rows for why and how).

`find` reads, in one statement, everything a submission and its thank-you page need: the link,
its encounter and episode, the clinic's settings, and whether the client's own page has
something to show. `claim_and_store` is the transaction's first write. On PostgreSQL a
submission that opens no alert is written by `claim_store_and_record` alone, in one statement
outside any transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

from alliance.accounts.models import ClinicSettings
from alliance.agency.models import ClientView, RelapsePlan
from alliance.alerts import fixed
from alliance.alerts.fixed import FOLLOW_UP_VISIT, History, Refresh
from alliance.alerts.models import Alert, Status
from alliance.audit.log import ENTRY_COLUMNS, Placed
from alliance.audit.models import AuditEntry
from alliance.clients.models import Encounter, Episode
from alliance.measures.models import MeasureLink, Response
from alliance.rows import (
    Columns,
    all_columns,
    cast_type,
    execute,
    insert,
    insert_columns,
    quote,
    table,
    typed_values,
)

M = TypeVar("M", bound=Model)
logger = logging.getLogger(__name__)

_LINK = all_columns(MeasureLink)
_ENCOUNTER = all_columns(Encounter)
_EPISODE = all_columns(Episode)
_SETTINGS = all_columns(ClinicSettings)
_RESPONSE = insert_columns(Response)
# What the responses of one submission share, given once in its one statement: so a
# submission of two measures that refreshes no alert (most of them) keeps within the 50
# parameters of which psycopg keeps the parsed form.
_SHARED = ("organisation", "client", "episode", "encounter", "link", "timing", "source")
_SHARED_FIELDS = tuple(f for f in _RESPONSE.fields if f.name in (*_SHARED, "submitted_at"))
_OWN_FIELDS = tuple(f for f in _RESPONSE.fields if f not in _SHARED_FIELDS)


@dataclass(frozen=True)
class Found:
    link: MeasureLink  # with its encounter and the encounter's episode
    clinic: ClinicSettings | None  # None when the clinic has not saved settings yet
    relapse_plan: bool  # the episode has a plan for staying well
    progress_shared: bool  # the clinician shares the client's progress with them
    history: History  # the episode's history (as alerts.fixed.read gives it, every instrument)


@cache
def _statement(vendor: str) -> str:
    """Built once per database backend (`vendor`), whose quoting it uses."""
    return (
        f"SELECT {_LINK.select('l')}, {_ENCOUNTER.select('e')}, "  # noqa: S608
        f"{_EPISODE.select('p')}, {_SETTINGS.select('s')}, "
        f"EXISTS (SELECT 1 FROM {table(RelapsePlan)} r WHERE r.episode_id = e.episode_id), "
        f"EXISTS (SELECT 1 FROM {table(ClientView)} v "
        "WHERE v.client_id = l.client_id AND v.enabled = %s), "
        f"{_history_columns(vendor)} "
        f"FROM {table(MeasureLink)} l "
        f"JOIN {table(Encounter)} e ON e.id = l.encounter_id "
        f"JOIN {table(Episode)} p ON p.id = e.episode_id "
        f"LEFT JOIN {table(ClinicSettings)} s ON s.organisation_id = l.organisation_id "
        "WHERE l.token_hash = %s"
    )


def _history_columns(vendor: str) -> str:
    """The episode's complete totals (each with its instrument, encounter kind, time and id)
    and its unresolved alerts, each as one JSON array: the history `alerts.fixed.read` gives,
    for every instrument, in the same statement as the link. JSON aggregates are PostgreSQL's
    json_agg and SQLite's json_group_array; the totals are put in order in Python."""
    postgresql = vendor == "postgresql"
    aggregate = "json_agg" if postgresql else "json_group_array"
    item = "json_build_array" if postgresql else "json_array"
    # PostgreSQL orders inside the aggregate; SQLite's order is sorted again in Python.
    order = " ORDER BY r.submitted_at, r.id" if postgresql else ""
    # Each response's encounter kind is looked up by its key (fixed.encounter_kind): joined, the
    # planner hashed the whole encounter table for the episode's few responses.
    return (
        f"(SELECT {aggregate}({item}(r.instrument_id, r.total, {fixed.encounter_kind()}, "  # noqa: S608
        f"r.submitted_at, r.id){order}) "
        f"FROM {table(Response)} r "
        "WHERE r.episode_id = e.episode_id AND r.complete = %s AND r.total IS NOT NULL), "
        f"(SELECT {aggregate}({item}(a.kind, a.id)) FROM {table(Alert)} a "
        "WHERE a.episode_id = e.episode_id AND a.status <> %s)"
    )


def find(token_hash: str) -> Found | None:
    params = [True, True, Status.RESOLVED, token_hash]
    rows = execute(_statement(connection.vendor), params)
    if not rows:
        return None
    row = list(rows[0])
    link = _take(_LINK, row)
    encounter = _take(_ENCOUNTER, row)
    episode = _take(_EPISODE, row)
    # Settings are saved the first time a clinic changes them; until then, no row.
    settings = _take(_SETTINGS, row)
    clinic = settings if settings.pk is not None else None
    encounter.episode = episode
    link.encounter = encounter
    relapse_plan, progress_shared, totals, alerts = row
    history = History()
    # In time order, as alerts.fixed.read gives them: submitted_at, then id. PostgreSQL sent
    # them so; SQLite keeps times as UTC text of one form, which sorts as the times do.
    for instrument_id, total, kind, _, _ in sorted(_json(totals), key=lambda t: (t[3], t[4])):
        history.totals.setdefault(instrument_id, []).append(int(total))
        if kind != FOLLOW_UP_VISIT:
            history.treatment.setdefault(instrument_id, []).append(int(total))
    history.open_ids = {kind: int(pk) for kind, pk in _json(alerts)}
    return Found(link, clinic, bool(relapse_plan), bool(progress_shared), history)


def _json(value: Any) -> list[list[Any]]:
    """A JSON aggregate's rows: PostgreSQL's json_agg comes decoded (NULL for none), SQLite's
    json_group_array as text."""
    if value is None:
        return []
    found: list[list[Any]] = json.loads(value) if isinstance(value, str) else value
    return found


def _take(columns: Columns[M], row: list[Any]) -> M:
    """The instance made of the columns at the front of the row, taken off it."""
    instance = columns.load(row[: len(columns)])
    del row[: len(columns)]
    return instance


_CLAIMABLE = "completed_at IS NULL AND revoked_at IS NULL AND expires_at > %s"


def claim_and_store(link_id: int, now: datetime, responses: list[Response]) -> bool:
    """Mark the link completed, if it still can be, and insert the responses (each gets its
    id); False, with nothing written, when another sender got there first."""
    at = connection.ops.adapt_datetimefield_value(now)
    claim = f"UPDATE {table(MeasureLink)} SET completed_at = %s WHERE id = %s AND {_CLAIMABLE}"  # noqa: S608
    return insert(_RESPONSE, responses, key="instrument_id", only_if=(claim, [at, link_id, at]))


def claim_store_and_record(
    link_id: int,
    now: datetime,
    responses: list[Response],
    entries: list[AuditEntry],
    placed: Placed,
    refreshes: Sequence[Refresh] = (),
) -> bool:
    """PostgreSQL, outside a transaction: claim the link, insert the responses, refresh the
    alerts and append the audit entries after the head their thread knows, in one statement, so
    atomic on its own.

    The statement locks the link first if it can still be claimed, and the alerts if none is
    resolved; then moves the chain's head only if it is still the known one; then, only if the
    head moved, claims the link and writes the rows. So either everything is written (True, each
    row with its id) or nothing (False: the link was taken, an alert resolved, or the head
    moved), and the caller goes the ordinary way.
    """
    stored_kinds = {r.instrument_id for r in responses}
    rows_params = _response_params(responses)
    if rows_params is None or any(r.instrument_id not in stored_kinds for r in refreshes):
        return False
    at = connection.ops.adapt_datetimefield_value(now)
    move, moved_params = placed.move
    params: list[Any] = [link_id, at]
    if refreshes:
        params += fixed.live_params(list(refreshes))
    params += [*moved_params, at, link_id]
    params += rows_params
    if refreshes:
        params += fixed.fresh_params(list(refreshes))
    for entry in entries:
        params += ENTRY_COLUMNS.params(entry)
    statement = _one_statement(
        connection.vendor, move, len(responses), len(refreshes), len(entries)
    )
    rows = execute(statement, params)
    if not rows:
        return False
    found = {(what, key): pk for what, pk, key in rows}
    refreshed = sum(1 for what, _, _ in rows if what == 2)
    if refreshed != len(refreshes):  # the locks and the checks above rule it out
        logger.error("a submission refreshed %d of %d alerts", refreshed, len(refreshes))
    for response in responses:
        response.pk = found[(0, response.instrument_id)]
        response._state.adding, response._state.db = False, connection.alias
    for entry in entries:
        entry.pk = found[(1, str(entry.seq))]
        entry._state.adding, entry._state.db = False, connection.alias
    placed.written()
    return True


def _response_params(responses: list[Response]) -> list[Any] | None:
    """The shared values once, then each response's own; None if they do not share them."""
    if not responses:
        return None
    prepared = [_RESPONSE.prepared(r) for r in responses]
    shared = [prepared[0][f.name] for f in _SHARED_FIELDS]
    if any([values[f.name] for f in _SHARED_FIELDS] != shared for values in prepared):
        return None
    return shared + [values[f.name] for values in prepared for f in _OWN_FIELDS]


def _response_rows(count: int) -> str:
    """`count` rows of the responses' columns to SELECT from, the shared ones given once."""

    def typed(fields: tuple[Field[Any, Any], ...]) -> str:
        return ", ".join(f"CAST(%s AS {cast_type(f)})" for f in fields)

    def names(fields: tuple[Field[Any, Any], ...]) -> str:
        return ", ".join(quote(f.column) for f in fields)

    chosen = ", ".join(
        f"{'s' if f in _SHARED_FIELDS else 'v'}.{quote(f.column)}" for f in _RESPONSE.fields
    )
    shared = f"(VALUES ({typed(_SHARED_FIELDS)})) AS s({names(_SHARED_FIELDS)})"
    own = ", ".join([f"({typed(_OWN_FIELDS)})"] * count)
    return f"SELECT {chosen} FROM {shared} CROSS JOIN (VALUES {own}) AS v({names(_OWN_FIELDS)})"  # noqa: S608


@cache
def _one_statement(vendor: str, move: str, count: int, refreshes: int, entries: int) -> str:
    link = table(MeasureLink)
    gate = "EXISTS (SELECT 1 FROM open)"
    live = fresh = fresh_rows = ""
    if refreshes:
        live_sql, fresh_sql = fixed.refresh_ctes(vendor, refreshes)
        live = f"live AS ({live_sql}), "
        gate += f" AND (SELECT count(*) FROM live) = {refreshes}"  # noqa: S608
        fresh = f"fresh AS ({fresh_sql}), "
        fresh_rows = " UNION ALL SELECT 2, f.id, '' FROM fresh f"
    return (
        f"WITH open AS (SELECT id FROM {link} WHERE id = %s AND {_CLAIMABLE} FOR UPDATE), "  # noqa: S608
        f"{live}head AS ({move} AND {gate} RETURNING 1), "
        f"claim AS (UPDATE {link} SET completed_at = %s "
        "WHERE id = %s AND EXISTS (SELECT 1 FROM head) RETURNING 1), "
        f"stored AS (INSERT INTO {table(Response)} ({_RESPONSE.names()}) "
        f"{_response_rows(count)} "
        "WHERE EXISTS (SELECT 1 FROM claim) RETURNING id, instrument_id), "
        f"{fresh}entry AS (INSERT INTO {table(AuditEntry)} ({ENTRY_COLUMNS.names()}) "
        f"SELECT * FROM {typed_values(ENTRY_COLUMNS, entries)} AS a "
        "WHERE EXISTS (SELECT 1 FROM claim) RETURNING id, seq) "
        "SELECT 0, s.id, s.instrument_id FROM stored s "
        f"UNION ALL SELECT 1, e.id, CAST(e.seq AS text) FROM entry e{fresh_rows}"
    )
