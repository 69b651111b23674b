"""The alert rules' reads and writes on the submission path, in fixed statements (see
alliance.rows): the episode's history in one read (its earlier complete totals per instrument,
oldest first, and its unresolved alerts by kind), then opening or refreshing an alert, and
writing its notices to the care team in the outbox."""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import connection

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, User
from alliance.alerts.models import Alert, Kind, Status
from alliance.clients.access import visible_clients_sql
from alliance.clients.models import CareRole, CareTeamMember, Client, Encounter, EncounterKind
from alliance.measures.models import Response
from alliance.notify.models import Message
from alliance.rows import (
    Columns,
    cast_type,
    execute,
    insert_columns,
    placeholders,
    quote,
    table,
    update,
)

FOLLOW_UP_VISIT = EncounterKind.FOLLOW_UP


def encounter_kind() -> str:
    """The kind of a response's (`r`) encounter, if it has one, looked up by its key for each
    response. Joined instead, PostgreSQL's planner hashed the whole encounter table to find the
    kinds of one episode's few responses: 0.38 of the link read's 0.43 ms with the bench's 3,276
    encounters, and growing with the clinic."""
    return f"(SELECT x.kind FROM {table(Encounter)} x WHERE x.id = r.encounter_id)"  # noqa: S608


@dataclass
class History:
    totals: dict[str, list[int]] = field(default_factory=dict)  # every earlier total
    treatment: dict[str, list[int]] = field(default_factory=dict)  # no follow-up check-in's
    open_ids: dict[str, int] = field(default_factory=dict)  # unresolved alert id by kind


@cache
def _statement(vendor: str, instruments: int, leave_out: bool) -> str:
    """Built once per database backend (`vendor`), whose quoting it uses."""
    # Rows of both kinds share columns: (0, instrument, total, encounter kind, when, id) for a
    # response, (1, alert kind, alert id, ...) for an alert. Sorted so responses come in order.
    leave = " AND r.id <> %s" if leave_out else ""
    return (
        f"SELECT 0, r.instrument_id, r.total, {encounter_kind()}, r.submitted_at, r.id "  # noqa: S608
        f"FROM {table(Response)} r "
        "WHERE r.episode_id = %s AND r.complete = %s AND r.total IS NOT NULL "
        f"AND r.instrument_id IN ({placeholders(instruments)}){leave} "
        f"UNION ALL SELECT 1, a.kind, a.id, NULL, NULL, NULL FROM {table(Alert)} a "
        "WHERE a.episode_id = %s AND a.status <> %s "
        "ORDER BY 1, 5, 6"
    )


def read(episode_id: int, instrument_ids: set[str], stored_pk: int | None) -> History:
    """The episode's history; `stored_pk` leaves out a response already saved."""
    history = History()
    wanted = sorted(instrument_ids) or [""]  # no instrument: no response rows, alerts still
    params: list[object] = [episode_id, True, *wanted]
    if stored_pk is not None:
        params.append(stored_pk)
    params += [episode_id, Status.RESOLVED]
    for what, name, number, kind, _, _ in execute(
        _statement(connection.vendor, len(wanted), stored_pk is not None), params
    ):
        if what == 1:
            history.open_ids[name] = int(number)
            continue
        history.totals.setdefault(name, []).append(int(number))
        if kind != FOLLOW_UP_VISIT:
            history.treatment.setdefault(name, []).append(int(number))
    return history


_NEW = insert_columns(Alert)
_CHANGED = Columns(Alert, ["reason", "facts", "response", "status", "opened_at"])


def open_alert(alert: Alert) -> bool:
    """INSERT a new alert, which gets its id; False, with nothing written, when one of its kind
    is unresolved already (a concurrent submission may have opened it a moment ago). No error,
    so no savepoint is needed around it."""
    found = execute(_open_statement(connection.vendor), _NEW.params(alert))
    if not found:
        return False
    alert.pk = found[0][0]
    alert._state.adding, alert._state.db = False, connection.alias
    return True


@cache
def _open_statement(vendor: str) -> str:
    return (
        f"INSERT INTO {table(Alert)} ({_NEW.names()}) "  # noqa: S608
        f"VALUES ({placeholders(len(_NEW))}) ON CONFLICT DO NOTHING RETURNING id"
    )


@dataclass(frozen=True)
class Refresh:
    """A new signal for an unresolved alert of a kind that notifies nobody: the alert takes the
    signal's reason and facts, and the response of `instrument_id` it came from."""

    alert_id: int
    kind: str
    reason: str
    facts: dict[str, Any]
    instrument_id: str


_REFRESHED = Columns(Alert, ["reason", "facts"])
_INSTRUMENT = Columns(Response, ["instrument_id"])


@cache
def refresh_ctes(vendor: str, count: int) -> tuple[str, str]:
    """On PostgreSQL (`vendor`), `count` refreshes (`Refresh`) in the submission's one statement
    (measures.submit_sql): a CTE `live` that locks the alerts if none is resolved (what
    `refresh` checks), and a CTE `fresh` that writes what `refresh` writes, each alert taking the
    response its instrument's row in the CTE `stored` got. Their parameters: `live_params`, then
    `fresh_params`."""
    ids = placeholders(count)
    live = f"SELECT id FROM {table(Alert)} WHERE id IN ({ids}) AND status <> %s FOR UPDATE"  # noqa: S608
    reason, facts = _REFRESHED.fields
    (instrument,) = _INSTRUMENT.fields
    row = (
        f"(CAST(%s AS bigint), CAST(%s AS {cast_type(reason)}), "
        f"CAST(%s AS {cast_type(facts)}), CAST(%s AS {cast_type(instrument)}))"
    )
    fresh = (
        f"UPDATE {table(Alert)} a SET reason = v.reason, facts = v.facts, "  # noqa: S608
        "response_id = s.id, version = a.version + 1 "
        f"FROM (VALUES {', '.join([row] * count)}) AS v(id, reason, facts, instrument_id) "
        "JOIN stored s ON s.instrument_id = v.instrument_id WHERE a.id = v.id RETURNING a.id"
    )
    return live, fresh


def live_params(refreshes: list[Refresh]) -> list[Any]:
    return [*(r.alert_id for r in refreshes), Status.RESOLVED]


def fresh_params(refreshes: list[Refresh]) -> list[Any]:
    _, facts = _REFRESHED.fields
    return [
        value
        for r in refreshes
        for value in (
            r.alert_id,
            r.reason,
            facts.get_db_prep_save(r.facts, connection),
            r.instrument_id,
        )
    ]


def refresh(alert_id: int, changed: Alert) -> bool:
    """Give an unresolved alert the signal's new reason, facts and response (a risk alert also
    opens again, unacknowledged, dated now); False when it was resolved meanwhile."""
    statement, params = _refresh(alert_id, changed)
    return bool(update(statement, params))


def _refresh(alert_id: int, changed: Alert) -> tuple[str, list[Any]]:
    new = _CHANGED.prepared(changed)
    if changed.kind == Kind.RISK:
        again = ", status = %s, acknowledged_at = NULL, acknowledged_by_id = NULL, opened_at = %s"
        extra = [new["status"], new["opened_at"]]
    else:
        again, extra = "", []
    statement = (
        f"UPDATE {table(Alert)} SET reason = %s, facts = %s, response_id = %s, "  # noqa: S608
        f"version = version + 1{again} WHERE id = %s AND status <> %s"
    )
    return statement, [
        new["reason"],
        new["facts"],
        new["response"],
        *extra,
        alert_id,
        Status.RESOLVED,
    ]


def refresh_and_notify(alert_id: int, changed: Alert, notice: Message) -> list[int] | None:
    """`refresh`, then `write_notices` if it refreshed (on PostgreSQL one statement); the
    notices' ids, or None when the alert was resolved meanwhile (nothing written)."""
    if connection.vendor != "postgresql":
        return write_notices(changed, notice) if refresh(alert_id, changed) else None
    statement, params = _refresh(alert_id, changed)
    done = _with_notices(f"{statement} RETURNING id", params, changed, notice)
    return None if done is None else done[1]


def open_and_notify(alert: Alert, notice: Message) -> list[int] | None:
    """`open_alert`, then `write_notices` if it opened (on PostgreSQL one statement); the
    notices' ids (the alert gets its id), or None when one of its kind is unresolved already
    (nothing written)."""
    if connection.vendor != "postgresql":
        return write_notices(alert, notice) if open_alert(alert) else None
    done = _with_notices(_open_statement(connection.vendor), _NEW.params(alert), alert, notice)
    if done is None:
        return None
    alert.pk, notices = done
    alert._state.adding, alert._state.db = False, connection.alias
    return notices


def _with_notices(
    write: str, params: list[Any], alert: Alert, notice: Message
) -> tuple[int, list[int]] | None:
    """The alert's write (returning its id), then its notices only if it wrote a row: the
    alert's id and the notices' ids, or None when it wrote nothing."""
    lead_only = alert.kind != Kind.RISK
    statement = (
        f"WITH done AS ({write}), "  # noqa: S608
        f"sent AS ({_notices_statement(connection.vendor, lead_only, 'done')}) "
        "SELECT 0, id FROM done UNION ALL SELECT 1, id FROM sent"
    )
    rows = execute(statement, [*params, *_notice_params(notice), *_team_params(alert)])
    done = [pk for what, pk in rows if what == 0]
    if not done:
        return None
    return done[0], [pk for what, pk in rows if what == 1]


_MESSAGE = insert_columns(Message)


def _care_team(lead_only: bool) -> str:
    """Who an alert's notices go to (the FROM and WHERE of a statement): the client's current
    care team, or only its lead for an alert of another kind than risk; each still a member of
    the clinic, with an active account and an address."""
    lead = " AND c.care_role = %s" if lead_only else ""
    return (
        f"FROM {table(CareTeamMember)} c "
        f"JOIN {table(Membership)} m ON m.id = c.membership_id "
        f"JOIN {table(User)} u ON u.id = m.user_id "
        "WHERE c.client_id = %s AND c.ended_at IS NULL AND m.is_active AND u.is_active "
        f"AND u.email <> %s{lead}"
    )


def _team_params(alert: Alert) -> list[Any]:
    lead_only = alert.kind != Kind.RISK
    return [alert.client_id, "", *([CareRole.LEAD] if lead_only else [])]


def recipients(alert: Alert) -> list[str]:
    """The addresses an alert's notices go to (see `_care_team`)."""
    statement = _recipients_statement(connection.vendor, alert.kind != Kind.RISK)
    return [email for (email,) in execute(statement, _team_params(alert))]


@cache
def _recipients_statement(vendor: str, lead_only: bool) -> str:
    return f"SELECT u.email {_care_team(lead_only)} ORDER BY c.id"


def write_notices(alert: Alert, notice: Message) -> list[int]:
    """A copy of `notice` to each of the alert's recipients, written in one statement that
    finds them (see `_care_team`); the new messages' ids."""
    if not connection.features.can_return_rows_from_bulk_insert:
        # SQLite before 3.35 (no RETURNING): the recipients, then one copy each.
        written = []
        for address in recipients(alert):
            message = copy(notice)
            message.to = address
            message.save()
            written.append(message.pk)
        return written
    lead_only = alert.kind != Kind.RISK
    statement = _notices_statement(connection.vendor, lead_only)
    return [pk for (pk,) in execute(statement, [*_notice_params(notice), *_team_params(alert)])]


def _notice_params(notice: Message) -> list[Any]:
    values = zip(_MESSAGE.fields, _MESSAGE.params(notice), strict=True)
    return [v for f, v in values if f.name != "to"]


@cache
def _notices_statement(vendor: str, lead_only: bool, after: str = "") -> str:
    """The notices' INSERT; with `after`, the name of a CTE, only if that CTE has a row."""
    # Typed on PostgreSQL, where a parameter in a SELECT list is otherwise read as text.
    values = ", ".join(
        "u.email"
        if f.name == "to"
        else (f"CAST(%s AS {cast_type(f)})" if vendor == "postgresql" else "%s")
        for f in _MESSAGE.fields
    )
    gate = f" AND EXISTS (SELECT 1 FROM {after})" if after else ""  # noqa: S608
    return (
        f"INSERT INTO {table(Message)} ({_MESSAGE.names()}) "
        f"SELECT {values} {_care_team(lead_only)}{gate} ORDER BY c.id RETURNING {quote('id')}"
    )


def open_risk(actor: Actor, limit: int) -> list[tuple[Any, ...]]:
    """(alert id, client id, client name) of unacknowledged risk alerts the actor may see, most
    urgent first: the banner on every page, so built once rather than per request."""
    visible, params = visible_clients_sql(actor, "c")
    statement = (
        f"SELECT a.id, a.client_id, c.display_name FROM {table(Alert)} a "  # noqa: S608
        f"JOIN {table(Client)} c ON c.id = a.client_id "
        f"WHERE a.kind = %s AND a.status = %s AND {visible} "
        "ORDER BY a.priority, a.opened_at DESC, a.id LIMIT %s"
    )
    return execute(statement, [Kind.RISK, Status.OPEN, *params, limit])
