"""The author's journal as one Markdown file, decrypted, for the author to keep."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.audit.log import record
from alliance.journal.access import Entry, journal_of, read_entry


def _entry_markdown(entry: Entry) -> list[str]:
    c = entry.content
    when = timezone.localtime(entry.created_at).strftime("%-d %b %Y, %H:%M")
    lines = [f"## {when}", ""]
    if c.unreadable:
        return [*lines, "_This entry has been altered and cannot be read._", ""]
    if c.prompt_label:
        lines += [f"*{c.prompt_label}*", ""]
    lines += [c.text, ""]
    if c.tags:
        lines += ["Tags: " + ", ".join(c.tags), ""]
    return lines


def journal_markdown(actor: Actor, now: datetime) -> str:
    entries = [read_entry(e) for e in journal_of(actor.user).order_by("created_at", "pk")]
    record("journal.export", actor=actor, object_type="journal", detail={"entries": len(entries)})
    stamp = timezone.localtime(now).strftime("%-d %b %Y")
    lines = [f"# My journal, exported {stamp}", ""]
    if not entries:
        lines.append("_No entries._")
    for entry in entries:
        lines += _entry_markdown(entry)
    # Client links are left out: the file may travel, and a link is only meaningful here.
    return "\n".join(lines) + "\n"
