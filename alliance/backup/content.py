"""Row counts and content hashes of every table, read the same way wherever the rows live.

A backup records them from the very snapshot it saves, and a restore recomputes them on the
restored database: equal digests mean every row came back as it was. Rows are read in primary
key order (every column, for a table without one) and each is written as canonical JSON, so
the hash depends only on the table's content, not on how its pages lie on disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

FETCH = 2000


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}


@dataclass(frozen=True)
class Reader:
    """A DB-API cursor and how to talk to it: `vendor` is "sqlite" or "postgresql", and
    `placeholder` is "?" for the sqlite3 module, "%s" for psycopg and Django's cursors."""

    cursor: Any
    vendor: str
    placeholder: str = "%s"

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, tuple(params))
        return list(self.cursor.fetchall())


def quote(name: str) -> str:
    """An identifier quoted for SQLite and PostgreSQL alike (names come from the catalog)."""
    return '"' + name.replace('"', '""') + '"'


def table_names(reader: Reader) -> list[str]:
    if reader.vendor == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return sorted(str(row[0]) for row in reader.rows(sql))


TABLE_INFO = {
    "?": "SELECT name, pk FROM pragma_table_info(?)",
    "%s": "SELECT name, pk FROM pragma_table_info(%s)",
}
PG_KEY = (
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
    "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
    "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
    "ORDER BY array_position(i.indkey::int2[], a.attnum)"
)
PG_COLUMNS = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position"
)


def _order_columns(reader: Reader, table: str) -> list[str]:
    """The primary key's columns in key order; every column when there is no key."""
    if reader.vendor == "sqlite":
        info = reader.rows(TABLE_INFO[reader.placeholder], [table])
        keyed = sorted((int(pk), str(name)) for name, pk in info if int(pk) > 0)
        return [name for _, name in keyed] or [str(name) for name, _ in info]
    key = [str(row[0]) for row in reader.rows(PG_KEY, [quote(table)])]
    return key or [str(row[0]) for row in reader.rows(PG_COLUMNS, [table])]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def digest_table(reader: Reader, table: str) -> TableDigest:
    order = ", ".join(quote(column) for column in _order_columns(reader, table))
    # Table and column names come from the database's own catalog, quoted: no parameter
    # can stand for an identifier.
    select = " ".join(["SELECT * FROM", quote(table), "ORDER BY", order])
    reader.cursor.execute(select)
    sha = hashlib.sha256()
    count = 0
    while batch := reader.cursor.fetchmany(FETCH):
        for row in batch:
            line = json.dumps(list(row), default=_plain, sort_keys=True, separators=(",", ":"))
            sha.update(line.encode("utf-8", "surrogatepass") + b"\n")
            count += 1
    return TableDigest(count, sha.hexdigest())


def digest_tables(reader: Reader, *, skip: Iterable[str] = ()) -> dict[str, TableDigest]:
    left_out = set(skip)
    return {t: digest_table(reader, t) for t in table_names(reader) if t not in left_out}


def content_hash(tables: Mapping[str, TableDigest]) -> str:
    """One hash over every table's name, row count and hash."""
    sha = hashlib.sha256()
    for name in sorted(tables):
        sha.update(f"{name}\t{tables[name].rows}\t{tables[name].sha256}\n".encode())
    return sha.hexdigest()


def differences(expected: Mapping[str, TableDigest], found: Mapping[str, TableDigest]) -> list[str]:
    """What differs, one short phrase per table ("" for none)."""
    problems = []
    for name in sorted(set(expected) | set(found)):
        want, got = expected.get(name), found.get(name)
        if want is None:
            problems.append(f"table {name} is not in the backup")
        elif got is None:
            problems.append(f"table {name} is missing")
        elif want.rows != got.rows:
            problems.append(f"table {name} has {got.rows} rows where {want.rows} were backed up")
        elif want.sha256 != got.sha256:
            problems.append(f"table {name} has the same number of rows but other content")
    return problems
