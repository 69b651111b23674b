"""Reading settings from the environment, with errors that say what to fix.

Kept free of Django imports so that the command line can report a bad setting in one line
before Django starts.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says how to fix it."""


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}={raw!r} is not a yes/no value; use true or false")


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is too small; use {minimum} or more")
    return value


def env_choice(env: Mapping[str, str], name: str, default: str, choices: list[str]) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    for choice in choices:
        if raw.strip().lower() == choice.lower():
            return choice
    raise SettingsError(f"{name}={raw!r} is not one of: {', '.join(choices)}")


def env_time_zone(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{name}={raw!r} is not a time zone; use a name such as Europe/London"
        ) from None
    return raw.strip()


def env_list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def read_secret(env: Mapping[str, str], name: str) -> str | None:
    """NAME holds the secret itself; NAME_FILE names a file that holds it."""
    direct = env.get(name)
    path = env.get(f"{name}_FILE")
    if direct and path:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    if direct:
        return direct
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
        if not value:
            raise SettingsError(f"{name}_FILE={path!r} is empty")
        return value
    return None


def secret_key(env: Mapping[str, str], data_dir: Path, *, production: bool) -> str:
    value = read_secret(env, "SECRET_KEY")
    if value is not None:
        # Production asks what Django's deployment check does (security.W009).
        shortest = 50 if production else 32
        if len(value) < shortest or len(set(value)) < 5:
            raise SettingsError(
                f"SECRET_KEY is shorter than {shortest} characters (or nearly all one "
                "character); generate a longer one"
            )
        return value
    if production:
        raise SettingsError(
            "SECRET_KEY or SECRET_KEY_FILE is required with ALLIANCE_PROFILE=production"
        )
    # The embedded default keeps a generated key beside its database, created on first run.
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        _write_new_key(key_file)
    key = key_file.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise SettingsError(
            f"{key_file} holds no usable key; delete it to have a new one generated "
            "(this signs everyone out)"
        )
    return key


def _write_new_key(key_file: Path) -> None:
    """Writes a key readable by its owner only; it appears whole, never half-written."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    draft = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(50))
    try:
        os.link(draft, key_file)  # fails if another process starting now wrote one first
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not key_file.exists():
            os.replace(draft, key_file)
    finally:
        draft.unlink(missing_ok=True)


# Bugs planted on purpose, so the crash-consistency harness (tests/test_crash_harness.py) can
# show that it fails when it should. Only the local profile honours one.
PLANTED_FAULTS = ("ack-before-commit",)


def planted_fault(env: Mapping[str, str], *, production: bool) -> str:
    """ALLIANCE_FAULT: the planted fault to switch on for a test, or "" (the normal case)."""
    raw = env.get("ALLIANCE_FAULT", "").strip()
    if not raw:
        return ""
    if production:
        raise SettingsError(
            "ALLIANCE_FAULT plants a bug for the crash-consistency test and is refused with "
            "ALLIANCE_PROFILE=production; unset it"
        )
    if raw not in PLANTED_FAULTS:
        raise SettingsError(
            f"ALLIANCE_FAULT={raw!r} is not a planted fault; use {', '.join(PLANTED_FAULTS)} "
            "(tests only) or leave it unset"
        )
    return raw


SQLITE_INIT = (
    # WAL lets readers run beside one writer; FULL makes every commit durable on disk before
    # the request that made it is answered.
    "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA foreign_keys=ON;"
)


def database(url: str | None, data_dir: Path) -> dict[str, Any]:
    """Turn DATABASE_URL into Django's DATABASES["default"]; default: SQLite under var/."""
    if url is None or url.strip() == "":
        data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_database(data_dir / "alliance.sqlite3")
    parts = urlsplit(url.strip())
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        if parts.netloc:
            raise SettingsError(
                f"DATABASE_URL={url!r} has a host part; a SQLite URL has three slashes, "
                "e.g. sqlite:///var/db.sqlite3 (relative) or sqlite:////srv/db.sqlite3 (absolute)"
            )
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise SettingsError("DATABASE_URL=sqlite:/// needs a file path, e.g. sqlite:///var/db")
        return sqlite_database(Path(path))
    if parts.scheme in {"postgres", "postgresql"}:
        return postgres_database(parts, url)
    raise SettingsError(
        f"DATABASE_URL={url!r} is not understood; use postgresql://user@host:5432/name "
        "or sqlite:///path/to/file.sqlite3"
    )


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "alliance.sqlite",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": SQLITE_INIT,
        },
        "TEST": {"NAME": None},
    }


# A statement run a second time on a connection is prepared on the server, so PostgreSQL plans
# it once: the client's submission costs more to plan than to run (its server CPU went from
# 2.0 to 1.1 ms). Preparing needs server-side parameter binding. Behind a pooler that shares
# server connections between clients in transaction mode (PgBouncer before 1.21), prepared
# statements break: add ?prepare_threshold=off to DATABASE_URL there.
PREPARE_THRESHOLD = 1


def _statement_options(options: Mapping[str, str], url: str) -> dict[str, Any]:
    raw = options.get("prepare_threshold", str(PREPARE_THRESHOLD)).strip().lower()
    if raw in {"off", "none", "no", "false"}:
        return {"prepare_threshold": None, "server_side_binding": True}
    if not raw.isdigit():
        raise SettingsError(
            f"DATABASE_URL={url!r} has prepare_threshold={raw!r}; use a whole number "
            "(runs of a statement before it is prepared; 0 prepares at the first) or off"
        )
    return {"prepare_threshold": int(raw), "server_side_binding": True}


def postgres_database(parts: SplitResult, url: str) -> dict[str, Any]:
    name = unquote(parts.path.lstrip("/")) or "alliance"
    try:
        port_number = parts.port
    except ValueError:
        raise SettingsError(f"DATABASE_URL={url!r} has a port that is not a number") from None
    options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    options.update(_statement_options(options, url))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port_number or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
