"""`alliance backup FILE` and `alliance restore FILE`: a consistent copy of the whole database,
with a manifest of every table's row count and content hash, restored only into an empty
database (unless forced) and checked table by table afterwards.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from alliance.backup import archive, postgres, sqlite
from alliance.backup.archive import BackupError, Manifest
from alliance.backup.content import TableDigest, differences

__all__ = ["BackupError", "Manifest", "Restored", "make_backup", "restore_backup"]
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    problems: list[str]  # empty when every table matches the manifest


def _engine() -> str:
    if connection.vendor not in ENGINES:
        raise BackupError(f"backups of a {connection.vendor} database are not supported")
    return connection.vendor


def _sqlite_path() -> Path:
    return Path(str(connection.settings_dict["NAME"])).resolve()


def make_backup(path: Path) -> Manifest:
    engine = _engine()
    archive.check_destination(path)
    with tempfile.TemporaryDirectory(prefix=".alliance-backup-", dir=path.parent) as work:
        payload = Path(work) / archive.PAYLOADS[engine]
        tables: dict[str, TableDigest]
        if engine == "sqlite":
            sqlite.snapshot(_sqlite_path(), payload)
            tables = sqlite.digests(payload)  # of the copy itself: exactly what is saved
        else:
            tables = postgres.snapshot(payload)
        return archive.write(path, payload, engine, tables)


def restore_backup(path: Path, *, force: bool) -> Restored:
    manifest = archive.read_manifest(path)
    engine = _engine()
    if manifest.engine != engine:
        raise BackupError(
            f"{path} is a {ENGINES[manifest.engine]} backup but DATABASE_URL names a "
            f"{ENGINES[engine]} database; restore it into a {ENGINES[manifest.engine]} one"
        )
    if engine == "sqlite":
        return _restore_sqlite(path, manifest, force=force)
    return _restore_postgres(path, manifest, force=force)


def _refuse_unless_empty(has_tables: bool, where: str, force: bool) -> None:
    if has_tables and not force:
        raise BackupError(
            f"{where} is not empty; restore into a new, empty database "
            "(or add --force to replace everything in it)"
        )


def _restore_sqlite(path: Path, manifest: Manifest, *, force: bool) -> Restored:
    target = _sqlite_path()
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    _refuse_unless_empty(sqlite.has_tables(target), f"the database {target}", force)
    archive.free_space_for(target.parent, 2 * manifest.payload_bytes)
    connection.close()
    with tempfile.TemporaryDirectory(prefix=".alliance-restore-", dir=target.parent) as work:
        copy = archive.extract_payload(path, manifest, Path(work))
        damaged = differences(manifest.tables, sqlite.digests(copy))
        if damaged:
            raise BackupError(f"{path} is damaged: {damaged[0]}")
        sqlite.copy_into(copy, target)
    return Restored(manifest, differences(manifest.tables, sqlite.digests(target)))


def _restore_postgres(path: Path, manifest: Manifest, *, force: bool) -> Restored:
    name = connection.settings_dict["NAME"]
    _refuse_unless_empty(postgres.has_tables(), f"the database {name!r}", force)
    with tempfile.TemporaryDirectory(prefix="alliance-restore-") as work:
        dump = archive.extract_payload(path, manifest, Path(work))
        if force:
            postgres.empty_schema()
        postgres.load(dump)
    return Restored(manifest, differences(manifest.tables, postgres.digests()))
