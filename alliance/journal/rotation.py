"""Key rotation: add a new key in front, then re-encrypt every entry and revision under it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from cryptography.fernet import Fernet
from django.db import transaction

from alliance.audit.log import record
from alliance.journal import crypto
from alliance.journal.models import JournalEntry, JournalRevision

BATCH = 200
Sealed = TypeVar("Sealed", JournalEntry, JournalRevision)


class KeysInEnvironment(Exception):
    """The keys are not in a file we may write: the operator must add the new key."""

    def __init__(self, new_key: str) -> None:
        super().__init__(
            f"the journal keys come from {crypto.ENV_NAME}; put this new key first in it, "
            "restart, then run `alliance journal rotate-key --reencrypt`"
        )
        self.new_key = new_key


@dataclass(frozen=True)
class Rotated:
    entries: int
    revisions: int
    unreadable: int


def add_key() -> str:
    """Writes a fresh key at the front of the key file, keeping the old ones for decryption."""
    source = crypto.key_source()
    new_key = Fernet.generate_key().decode("ascii")
    if source.path is None:
        raise KeysInEnvironment(new_key)
    crypto.write_key_file(source.path, (new_key, *source.keys))
    crypto.forget_keys()
    return new_key


def reencrypt() -> Rotated:
    """Every token re-sealed under the newest key, a batch per transaction."""
    crypto.forget_keys()
    entries, bad_entries = _reseal_all(JournalEntry)
    revisions, bad_revisions = _reseal_all(JournalRevision)
    with transaction.atomic():
        record(
            "journal.rotate_key",
            object_type="journal",
            detail={"entries": entries, "revisions": revisions},
        )
    return Rotated(entries, revisions, bad_entries + bad_revisions)


def rotate_key() -> Rotated:
    add_key()
    return reencrypt()


def _reseal_all(model: type[Sealed]) -> tuple[int, int]:
    done = unreadable = 0
    last = 0
    while True:
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update().filter(pk__gt=last).order_by("pk")[:BATCH]
            )
            if not rows:
                return done, unreadable
            for row in rows:
                try:
                    row.ciphertext = crypto.reseal(row.ciphertext)
                    done += 1
                except crypto.Unreadable:
                    unreadable += 1  # left as it is: re-sealing cannot mend it
            model.objects.bulk_update(rows, ["ciphertext"])
            last = rows[-1].pk
