"""Encryption of journal entries at rest, with keys kept outside the database.

Fernet (AES-128-CBC with an HMAC-SHA256 over the whole token) is authenticated: a token altered
by even one bit, or made with a key we no longer hold, fails to decrypt instead of yielding
garbage. MultiFernet encrypts with the first key and decrypts with any, which is what lets
`alliance journal rotate-key` add a key and re-encrypt without a moment of unreadable entries.

Keys come from ALLIANCE_JOURNAL_KEYS (or a file named by ALLIANCE_JOURNAL_KEYS_FILE): Fernet keys
separated by commas or new lines, newest first. The local profile, given neither, keeps a
generated key file beside its database; production refuses to start journalling without one.
They are read at first use, not at start-up, so the rest of the system runs without them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from alliance.config import SettingsError, read_secret

ENV_NAME = "ALLIANCE_JOURNAL_KEYS"
LOCAL_KEY_FILE = "journal.keys"


class Unreadable(Exception):
    """A stored entry failed its integrity check; its text is never shown half-decrypted."""

    def __init__(self) -> None:
        super().__init__(
            "This entry has been altered, or was written with a key this server no longer "
            "holds, and cannot be read."
        )


@dataclass(frozen=True)
class KeySource:
    keys: tuple[str, ...]
    path: Path | None  # the file to add a key to; None when the keys are in the environment


def parse_keys(raw: str, origin: str) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())
    if not keys:
        raise SettingsError(f"{origin} holds no journal key")
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SettingsError(
                f"{origin}: key {number} is not a Fernet key (32 url-safe base64 bytes); "
                "make one with `alliance journal rotate-key`"
            ) from None
    return keys


def key_source() -> KeySource:
    env = os.environ
    raw = read_secret(env, ENV_NAME)
    if raw is not None:
        named = env.get(f"{ENV_NAME}_FILE")
        return KeySource(parse_keys(raw, named or ENV_NAME), Path(named) if named else None)
    if settings.PRODUCTION:
        raise SettingsError(
            f"{ENV_NAME} or {ENV_NAME}_FILE is required with ALLIANCE_PROFILE=production "
            "to keep journal entries"
        )
    path = Path(settings.DATA_DIR) / LOCAL_KEY_FILE
    if not path.exists():
        write_key_file(path, (Fernet.generate_key().decode("ascii"),))
    return KeySource(parse_keys(path.read_text(encoding="utf-8"), str(path)), path)


def write_key_file(path: Path, keys: tuple[str, ...]) -> None:
    """Replaces the file whole (never half-written), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(keys) + "\n")
    os.replace(draft, path)


@cache
def _cipher() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in key_source().keys])


def forget_keys() -> None:
    """Drop the loaded keys, so the next use reads them again (after a rotation, in tests)."""
    _cipher.cache_clear()


def seal(payload: dict[str, Any]) -> str:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _cipher().encrypt(data).decode("ascii")


def unseal(token: str) -> dict[str, Any]:
    try:
        data = _cipher().decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError):
        raise Unreadable() from None
    found: dict[str, Any] = json.loads(data)
    return found


def reseal(token: str) -> str:
    """The same content under the newest key (raises Unreadable as unseal does)."""
    try:
        return _cipher().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError):
        raise Unreadable() from None
