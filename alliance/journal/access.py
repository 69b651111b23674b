"""The one way to read the journal: its author, and nobody else, ever.

There is no exception for admins, supervisors or emergencies: anyone else asking for an entry
gets the same NotFound as for an id that does not exist. Audit entries name the action and
the entry's id only: never its text, tags, a search term or the client it mentions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from alliance.accounts.actor import Actor
from alliance.accounts.models import User
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.clients.access import MAX_ID
from alliance.clients.errors import NotFound
from alliance.journal import crypto
from alliance.journal.models import JournalEntry, JournalRevision, Prompt

PROMPTS = dict(Prompt.choices)


def journal_of(user: User) -> QuerySet[JournalEntry]:
    return JournalEntry.objects.filter(author=user)


def access_entry(actor: Actor, entry_id: int, *, action: str = "journal.view") -> JournalEntry:
    entry = journal_of(actor.user).filter(pk=entry_id if 0 < entry_id <= MAX_ID else 0).first()
    if entry is None:
        record(
            action,
            actor=actor,
            object_type="journal_entry",
            object_id=entry_id,
            outcome=Outcome.DENIED,
        )
        raise NotFound("journal_entry", entry_id)
    record(action, actor=actor, object_type="journal_entry", object_id=entry.pk)
    return entry


@dataclass(frozen=True)
class Content:
    """What one entry says, decrypted; `unreadable` when its token failed the check."""

    text: str = ""
    prompt: str = ""
    tags: tuple[str, ...] = ()
    client_ref: int | None = None
    unreadable: bool = False

    @property
    def prompt_label(self) -> str:
        return PROMPTS.get(self.prompt, "")

    def payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "prompt": self.prompt,
            "tags": list(self.tags),
            "client_ref": self.client_ref,
        }


def open_token(token: str) -> Content:
    try:
        found = crypto.unseal(token)
    except crypto.Unreadable:
        return Content(unreadable=True)
    ref = found.get("client_ref")
    return Content(
        text=str(found.get("text", "")),
        prompt=str(found.get("prompt", "")),
        tags=tuple(str(t) for t in found.get("tags", [])),
        client_ref=ref if isinstance(ref, int) else None,
    )


@dataclass(frozen=True)
class Entry:
    pk: int
    created_at: datetime
    updated_at: datetime
    version: int
    content: Content
    history: list[tuple[datetime, Content]] = field(default_factory=list)

    def matches(self, words: str, tag: str) -> bool:
        c = self.content
        if tag and tag.casefold() not in {t.casefold() for t in c.tags}:
            return False
        haystack = " ".join([c.text, c.prompt_label, *c.tags]).casefold()
        return all(word in haystack for word in words.casefold().split())


def read_entry(entry: JournalEntry, *, history: bool = False) -> Entry:
    revisions: list[JournalRevision] = (
        list(entry.revisions.order_by("-replaced_at", "-pk")) if history else []
    )
    return Entry(
        entry.pk,
        entry.created_at,
        entry.updated_at,
        entry.version,
        open_token(entry.ciphertext),
        [(r.replaced_at, open_token(r.ciphertext)) for r in revisions],
    )


def read_journal(actor: Actor, *, searching: bool = False) -> list[Entry]:
    """The author's entries, newest first. Search happens in memory (see `search`): one
    person's journal is small, and the database cannot search what it holds encrypted."""
    record("journal.search" if searching else "journal.list", actor=actor, object_type="journal")
    return [read_entry(e) for e in journal_of(actor.user).order_by("-created_at", "-pk")]


def search(entries: list[Entry], words: str, tag: str) -> list[Entry]:
    return [e for e in entries if e.matches(words.strip(), tag.strip())]


def all_tags(entries: list[Entry]) -> list[str]:
    return sorted({t for e in entries for t in e.content.tags}, key=str.casefold)
