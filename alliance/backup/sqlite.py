"""SQLite: an online backup through SQLite's backup API, and a restore through it too.

`Connection.backup` copies every page in one step, inside one read transaction: in WAL mode
the server keeps writing meanwhile, and the copy is the database as it was at one instant.
Restoring copies the pages into the target the same way, so connections that have it open
see the restored database, never a half-copied one.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alliance.backup.archive import BackupError
from alliance.backup.content import Reader, TableDigest, digest_tables, table_names

BUSY_TIMEOUT = 30.0


def _connect(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the SQLite database {path}: {exc}") from None


def digests(path: Path) -> dict[str, TableDigest]:
    with closing(_connect(path)) as db:
        db.execute("BEGIN")  # one read transaction: every table from the same moment
        try:
            return digest_tables(Reader(db.cursor(), "sqlite", "?"))
        finally:
            db.execute("ROLLBACK")


def has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with closing(_connect(path)) as db:
        return bool(table_names(Reader(db.cursor(), "sqlite", "?")))


def snapshot(source: Path, copy: Path) -> None:
    """A consistent copy of the live database in `copy`, a single self-contained file."""
    if not source.is_file():
        raise BackupError(f"there is no SQLite database at {source}")
    try:
        with closing(_connect(source)) as live, closing(_connect(copy)) as out:
            live.backup(out)  # pages=-1: the whole database in one step, one snapshot
            out.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup failed: {exc}") from None


def copy_into(copy: Path, target: Path) -> None:
    """Replaces the target's content with the copy's (the target may be open elsewhere)."""
    try:
        with closing(_connect(copy)) as source, closing(_connect(target)) as out:
            source.backup(out)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot write the SQLite database {target}: {exc}") from None
