"""Every change to the journal and the check-ins: checked, sealed, audited, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.audit.log import record
from alliance.clients.errors import ActionError, StaleWrite, audit_refusals
from alliance.clients.models import Client
from alliance.journal import crypto
from alliance.journal.access import Content, access_entry, journal_of
from alliance.journal.models import (
    JournalEntry,
    JournalRevision,
    WellbeingCheckin,
    WellbeingPreference,
)

MAX_TEXT = 20_000
MAX_TAGS = 10
MAX_TAG_LENGTH = 40
NOT_YOUR_CLIENT = "Choose one of your own clients."


def _checked(actor: Actor, content: Content) -> Content:
    """The form checks these too; the action checks again so no other path can skip them."""
    if not content.text.strip():
        raise ActionError("Write something first.")
    if len(content.text) > MAX_TEXT:
        raise ActionError(f"An entry can hold at most {MAX_TEXT:,} characters.")
    if len(content.tags) > MAX_TAGS or any(len(t) > MAX_TAG_LENGTH for t in content.tags):
        raise ActionError(f"Use at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters.")
    ref = content.client_ref
    if ref is not None and not Client.objects.visible_to(actor).filter(pk=ref).exists():
        raise ActionError(NOT_YOUR_CLIENT)
    return content


@audit_refusals("journal.create")
@transaction.atomic
def create_entry(actor: Actor, content: Content) -> JournalEntry:
    sealed = crypto.seal(_checked(actor, content).payload())
    entry = JournalEntry.objects.create(author=actor.user, ciphertext=sealed)
    record("journal.create", actor=actor, object_type="journal_entry", object_id=entry.pk)
    return entry


@audit_refusals("journal.update")
@transaction.atomic
def update_entry(actor: Actor, entry_id: int, version: int, content: Content) -> JournalEntry:
    entry = access_entry(actor, entry_id, action="journal.update")
    sealed = crypto.seal(_checked(actor, content).payload())
    now = timezone.now()
    changed = journal_of(actor.user).filter(pk=entry.pk, version=version)
    # The earlier wording goes to the history only if this write wins against a parallel one.
    if not changed.update(ciphertext=sealed, updated_at=now, version=version + 1):
        raise StaleWrite()
    JournalRevision.objects.create(entry=entry, replaced_at=now, ciphertext=entry.ciphertext)
    entry.refresh_from_db()
    return entry


@audit_refusals("journal.delete")
@transaction.atomic
def delete_entry(actor: Actor, entry_id: int) -> None:
    entry = access_entry(actor, entry_id, action="journal.delete")
    entry.delete()  # its history goes with it (on_delete=CASCADE)


DELETE_ALL_WORDS = "delete my journal"


@transaction.atomic
def delete_journal(actor: Actor) -> int:
    count = journal_of(actor.user).count()
    journal_of(actor.user).delete()
    record("journal.delete_all", actor=actor, object_type="journal", detail={"entries": count})
    return count


@dataclass(frozen=True)
class Ratings:
    energy: int
    load: int
    meaning: int
    support: int


@audit_refusals("wellbeing.checkin")
@transaction.atomic
def record_checkin(actor: Actor, ratings: Ratings) -> WellbeingCheckin:
    values = [ratings.energy, ratings.load, ratings.meaning, ratings.support]
    if any(not 0 <= v <= 10 for v in values):
        raise ActionError("Each rating is a whole number from 0 to 10.")
    checkin = WellbeingCheckin.objects.create(
        author=actor.user,
        energy=ratings.energy,
        load=ratings.load,
        meaning=ratings.meaning,
        support=ratings.support,
    )
    # The ratings stay out of the trail: how someone feels is theirs.
    record("wellbeing.checkin", actor=actor, object_type="wellbeing", object_id=checkin.pk)
    return checkin


@transaction.atomic
def set_preference(actor: Actor, rhythm_days: int, prompts_on: bool) -> None:
    WellbeingPreference.objects.update_or_create(
        user=actor.user, defaults={"rhythm_days": rhythm_days, "prompts_on": prompts_on}
    )
    record("wellbeing.preference", actor=actor, object_type="wellbeing")
