"""The backup file: a zip holding the database (a SQLite file or a pg_dump archive) and a
manifest that says what it holds, so a restore can check it before and after.

manifest.json: format and version, engine, creation time (UTC), the payload's name, size and
SHA-256, and every table's row count and content hash with one hash over them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alliance.backup.content import TableDigest, content_hash

FORMAT = "alliance-backup"
VERSION = 1
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why in one line."""


@dataclass(frozen=True)
class Manifest:
    engine: str
    created_at: str
    payload_bytes: int
    payload_sha256: str
    tables: dict[str, TableDigest]

    @property
    def payload_name(self) -> str:
        return PAYLOADS[self.engine]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "engine": self.engine,
            "created_at": self.created_at,
            "payload": {
                "name": self.payload_name,
                "bytes": self.payload_bytes,
                "sha256": self.payload_sha256,
            },
            "tables": {name: d.as_json() for name, d in sorted(self.tables.items())},
            "content_sha256": content_hash(self.tables),
        }


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def check_destination(path: Path) -> None:
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name")
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise BackupError(f"the folder {path.parent} cannot be written to")


def write(path: Path, payload: Path, engine: str, tables: dict[str, TableDigest]) -> Manifest:
    """Writes the zip beside its final name, then renames it: never a half-written backup."""
    manifest = Manifest(
        engine=engine,
        created_at=now_utc(),
        payload_bytes=payload.stat().st_size,
        payload_sha256=file_sha256(payload),
        tables=tables,
    )
    draft = path.with_name(f".{path.name}.{os.getpid()}.partial")
    compression = zipfile.ZIP_DEFLATED if engine == "sqlite" else zipfile.ZIP_STORED
    try:
        with zipfile.ZipFile(draft, "w", compression=compression, allowZip64=True) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest.as_json(), indent=2) + "\n")
            archive.write(payload, manifest.payload_name)
        with draft.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(draft, path)
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        draft.unlink(missing_ok=True)
    return manifest


def read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        with zipfile.ZipFile(path) as archive:
            raw = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError(f"{path} is not an Alliance backup (no readable manifest)") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _parse(raw, path)


def _parse(raw: Any, path: Path) -> Manifest:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupError(f"{path} is not an Alliance backup")
    if raw.get("version") != VERSION:
        raise BackupError(
            f"{path} is a backup of format version {raw.get('version')!r}; "
            f"this Alliance reads version {VERSION}"
        )
    try:
        engine = str(raw["engine"])
        if engine not in PAYLOADS:
            raise ValueError(engine)
        tables = {
            str(name): TableDigest(int(d["rows"]), str(d["sha256"]))
            for name, d in raw["tables"].items()
        }
        manifest = Manifest(
            engine=engine,
            created_at=str(raw["created_at"]),
            payload_bytes=int(raw["payload"]["bytes"]),
            payload_sha256=str(raw["payload"]["sha256"]),
            tables=tables,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BackupError(f"{path} has a damaged manifest") from None
    if raw.get("content_sha256") != content_hash(tables):
        raise BackupError(f"{path} has a damaged manifest (its content hash does not match)")
    return manifest


def extract_payload(path: Path, manifest: Manifest, folder: Path) -> Path:
    """The payload, copied out into `folder` and checked against the manifest's hash."""
    target = folder / manifest.payload_name
    sha = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(path) as archive,
            archive.open(manifest.payload_name) as source,
            target.open("wb") as out,
        ):
            while chunk := source.read(CHUNK):
                sha.update(chunk)
                out.write(chunk)
    except KeyError:
        raise BackupError(f"{path} is damaged: {manifest.payload_name} is missing") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot unpack {path}: {exc.strerror or exc}") from None
    if sha.hexdigest() != manifest.payload_sha256:
        raise BackupError(f"{path} is damaged: the database inside does not match its hash")
    return target


def free_space_for(folder: Path, needed: int) -> None:
    if shutil.disk_usage(folder).free < needed:
        raise BackupError(f"not enough free space in {folder} ({needed} bytes are needed)")
