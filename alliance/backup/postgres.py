"""PostgreSQL: pg_dump's custom format, taken from an exported snapshot so that the manifest's
digests describe exactly the rows in the dump; pg_restore into an empty database.
"""

from __future__ import annotations

import glob
import os
import shutil

# Runs pg_dump and pg_restore only, with argument lists (no shell).
import subprocess  # nosec B404
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from alliance.backup.archive import BackupError
from alliance.backup.content import Reader, TableDigest, digest_tables, quote, table_names

# libpq reads these from the environment: no password on a command line, where `ps` shows it.
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def tool(name: str) -> str:
    """pg_dump or pg_restore: from PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1]
    raise BackupError(f"{name} is not installed; install the PostgreSQL client tools")


def _environment() -> dict[str, str]:
    settings: dict[str, Any] = connection.settings_dict
    env = dict(os.environ)
    pairs = {
        "PGHOST": settings.get("HOST"),
        "PGPORT": settings.get("PORT"),
        "PGUSER": settings.get("USER"),
        "PGPASSWORD": settings.get("PASSWORD"),
        "PGDATABASE": settings.get("NAME"),
    }
    for option, variable in LIBPQ_OPTIONS.items():
        pairs[variable] = (settings.get("OPTIONS") or {}).get(option)
    env.update({key: str(value) for key, value in pairs.items() if value})
    return env


def _run(args: list[str]) -> None:
    # A PostgreSQL tool found by tool() and arguments we build; no shell, no user input.
    done = subprocess.run(  # noqa: S603 # nosec B603
        args, env=_environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        first = lines[0] if lines else f"exit code {done.returncode}"
        raise BackupError(f"{Path(args[0]).name} failed: {first}")


def _reader() -> Reader:
    return Reader(connection.cursor(), "postgresql", "%s")


def digests() -> dict[str, TableDigest]:
    with transaction.atomic():
        cursor = connection.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return digest_tables(Reader(cursor, "postgresql"))


def has_tables() -> bool:
    return bool(table_names(_reader()))


def snapshot(dump: Path) -> dict[str, TableDigest]:
    """Dumps the database and digests its tables, both from one exported snapshot."""
    with transaction.atomic():
        cursor = connection.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot_id = str(cursor.fetchone()[0])
        _run(
            [
                tool("pg_dump"),
                "--format=custom",
                f"--snapshot={snapshot_id}",
                "--no-owner",
                "--no-privileges",
                f"--file={dump}",
            ]
        )
        return digest_tables(Reader(cursor, "postgresql"))


def empty_schema() -> None:
    """Drops every view, table, sequence and function of the current schema (--force)."""
    with transaction.atomic():
        reader = _reader()
        drops = [("VIEW", quote(str(name))) for (name,) in reader.rows(VIEWS)]
        drops += [("TABLE", quote(name)) for name in table_names(reader)]
        drops += [("SEQUENCE", quote(str(name))) for (name,) in reader.rows(SEQUENCES)]
        # regprocedure's text is the function's signature, already quoted where it must be.
        drops += [("FUNCTION", str(signature)) for (signature,) in reader.rows(FUNCTIONS)]
        for kind, name in drops:
            reader.cursor.execute(_drop_statement(kind, name))


def _drop_statement(kind: str, quoted_name: str) -> str:
    return "DROP " + kind + " IF EXISTS " + quoted_name + " CASCADE"


VIEWS = "SELECT table_name FROM information_schema.views WHERE table_schema = current_schema()"
SEQUENCES = (
    "SELECT sequence_name FROM information_schema.sequences "
    "WHERE sequence_schema = current_schema()"
)
FUNCTIONS = (
    "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
    "ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
)


def load(dump: Path) -> None:
    connection.close()  # pg_restore works alone; ours reconnects for the checks after it
    _run(
        [
            tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ]
    )
