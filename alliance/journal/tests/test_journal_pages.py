"""The author writes, finds, edits, exports and deletes their journal; bad input is explained."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alliance.audit.models import AuditEntry
from alliance.journal.access import open_token
from alliance.journal.models import JournalEntry, JournalRevision

from .conftest import CANARY, write

pytestmark = pytest.mark.django_db


def _post_entry(http, **data):
    return http.post(reverse("journal_new"), {"prompt": "", "tags": "", "client": "", **data})


def test_it_saves_an_entry_and_finds_it_by_word_and_by_tag(world, as_member):
    http = as_member(world.clinician)
    response = _post_entry(
        http, text=f"The {CANARY} session", tags="rupture, self-care", prompt="moved"
    )
    assert response.status_code == 302
    entry = JournalEntry.objects.get(author=world.clinician.user)
    assert CANARY not in entry.ciphertext

    page = http.get(reverse("journal"), {"q": "lighthouse"}).content.decode()
    assert CANARY in page
    assert "What moved me today" in page
    assert CANARY in http.get(reverse("journal"), {"tag": "self-care"}).content.decode()
    assert CANARY not in http.get(reverse("journal"), {"q": "nothing-like-it"}).content.decode()
    assert CANARY not in http.get(reverse("journal"), {"tag": "other"}).content.decode()


def test_it_keeps_search_words_out_of_the_audit_trail(world, as_member):
    write(world.actor(world.clinician))
    as_member(world.clinician).get(reverse("journal"), {"q": "lighthouse-7731"})
    search = AuditEntry.objects.get(action="journal.search")
    assert search.detail == {}
    assert not AuditEntry.objects.filter(detail__icontains="lighthouse").exists()


def test_it_refuses_an_entry_over_the_size_limit_and_stores_nothing(world, as_member):
    response = _post_entry(as_member(world.clinician), text="x" * 20_001)
    assert response.status_code == 400
    assert "at most 20,000 characters; this one has 20001" in response.content.decode()
    assert not JournalEntry.objects.exists()


def test_it_refuses_a_client_the_author_does_not_see(world, as_member):
    response = _post_entry(
        as_member(world.clinician), text="about someone", client=world.other_team_client.pk
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Choose one of your own clients." in body
    assert world.other_team_client.display_name not in body
    assert not JournalEntry.objects.exists()


def test_it_refuses_too_many_tags(world, as_member):
    tags = ", ".join(f"t{i}" for i in range(11))
    response = _post_entry(as_member(world.clinician), text="words", tags=tags)
    assert response.status_code == 400
    assert "Use at most 10 tags; this has 11." in response.content.decode()


def test_it_links_a_client_that_only_the_author_can_resolve(world, as_member):
    http = as_member(world.clinician)
    _post_entry(http, text="after the session", client=world.own_client.pk)
    entry = JournalEntry.objects.get()
    assert open_token(entry.ciphertext).client_ref == world.own_client.pk
    trail = AuditEntry.objects.filter(action__startswith="journal.")
    assert trail.exists()
    for row in trail:  # the link is private: no client id or client detail in the trail
        assert row.client_id is None
        assert row.detail == {}
    page = http.get(reverse("journal_entry", args=[entry.pk])).content.decode()
    assert f"About: {world.own_client.display_name}" in page


def test_it_keeps_the_earlier_wording_when_an_entry_is_edited(world, as_member):
    entry = write(world.actor(world.clinician), text="first wording")
    http = as_member(world.clinician)
    url = reverse("journal_entry", args=[entry.pk])
    response = http.post(
        url, {"text": "second wording", "version": "1", "prompt": "", "tags": "", "client": ""}
    )
    assert response.status_code == 302
    page = http.get(url).content.decode()
    assert "second wording" in page
    assert "Earlier wordings" in page
    assert "first wording" in page
    stale = http.post(
        url, {"text": "third", "version": "1", "prompt": "", "tags": "", "client": ""}
    )
    assert stale.status_code == 400
    assert "Someone else changed this record" in stale.content.decode()


def test_it_deletes_an_entry_with_its_history_for_good(world, as_member):
    entry = write(world.actor(world.clinician))
    http = as_member(world.clinician)
    http.post(
        reverse("journal_entry", args=[entry.pk]),
        {"text": "changed", "version": "1", "prompt": "", "tags": "", "client": ""},
    )
    assert JournalRevision.objects.count() == 1
    confirm = http.get(reverse("journal_entry_delete", args=[entry.pk]))
    assert "deleted for good" in confirm.content.decode()
    assert http.post(reverse("journal_entry_delete", args=[entry.pk])).status_code == 302
    assert not JournalEntry.objects.exists()
    assert not JournalRevision.objects.exists()
    assert AuditEntry.objects.filter(action="journal.delete", outcome="ok").count() == 1


def test_it_exports_the_whole_journal_decrypted_to_its_author(world, as_member):
    write(world.actor(world.clinician))
    write(world.actor(world.clinician), text="another day", tags=("supervision",))
    response = as_member(world.clinician).get(reverse("journal_export"))
    body = response.content.decode()
    assert response["Content-Disposition"] == 'attachment; filename="journal.md"'
    assert CANARY in body
    assert "Tags: supervision" in body
    assert AuditEntry.objects.get(action="journal.export").detail == {"entries": 2}


def test_it_deletes_the_whole_journal_only_with_the_typed_words(world, as_member):
    write(world.actor(world.clinician))
    write(world.actor(world.colleague))
    http = as_member(world.clinician)
    wrong = http.post(reverse("journal_delete_all"), {"confirm": "yes"})
    assert wrong.status_code == 400
    assert "exactly to confirm" in wrong.content.decode()
    assert JournalEntry.objects.count() == 2
    assert (
        http.post(reverse("journal_delete_all"), {"confirm": "delete my journal"}).status_code
        == 302
    )
    assert list(JournalEntry.objects.values_list("author", flat=True)) == [world.colleague.user_id]
