"""Every journal test gets its own key file, so no test writes keys under var/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from alliance.accounts.actor import Actor
from alliance.journal import crypto
from alliance.journal.access import Content
from alliance.journal.actions import create_entry
from alliance.journal.models import JournalEntry

CANARY = "CANARY-JOURNAL-lighthouse-7731"


@pytest.fixture(autouse=True)
def journal_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "journal.keys"
    path.write_text(Fernet.generate_key().decode("ascii") + "\n", encoding="utf-8")
    monkeypatch.delenv(crypto.ENV_NAME, raising=False)
    monkeypatch.setenv(f"{crypto.ENV_NAME}_FILE", str(path))
    crypto.forget_keys()
    yield path
    crypto.forget_keys()


def write(
    actor: Actor, text: str = f"Today {CANARY} stayed with me.", **kw: object
) -> JournalEntry:
    return create_entry(actor, Content(text=text, **kw))  # type: ignore[arg-type]
