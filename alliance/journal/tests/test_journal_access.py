"""Author-only: every other role, admins included, finds nothing of another's journal."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from alliance.api import schema
from alliance.audit.models import AuditEntry
from alliance.journal.models import JournalEntry, WellbeingCheckin
from conftest import signed_in

from .conftest import CANARY, write

pytestmark = pytest.mark.django_db

OTHERS = ["anonymous", "colleague", "coordinator", "consultant", "admin", "outsider"]
ENTRY_ROUTES = ["journal_entry", "journal_entry_delete"]
LIST_PAGES = ["journal", "journal_export", "wellbeing", "home", "pending_links", "api_tokens"]


def _http(world, role: str) -> HttpClient:
    return HttpClient() if role == "anonymous" else signed_in(getattr(world, role))


def _expected(role: str) -> int:
    return {"anonymous": 302, "admin": 403}.get(role, 404)


@pytest.mark.parametrize("name", ENTRY_ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("role", OTHERS)
def test_it_hides_an_entry_from_everyone_but_its_author(world, name, method, role):
    entry = write(world.actor(world.clinician))
    http = _http(world, role)
    url = reverse(name, args=[entry.pk])
    data = {"text": "overwritten", "version": "1", "prompt": "", "tags": "", "client": ""}
    response = http.get(url) if method == "get" else http.post(url, data)
    assert response.status_code == _expected(role), f"{method} {name} as {role}"
    assert CANARY not in response.content.decode(errors="replace")
    assert JournalEntry.objects.get(pk=entry.pk).ciphertext == entry.ciphertext
    if role not in {"anonymous", "admin"}:
        refused = AuditEntry.objects.filter(object_id=str(entry.pk), outcome="denied")
        assert refused.exists()


@pytest.mark.parametrize("name", ENTRY_ROUTES)
def test_it_gives_the_author_their_entry(world, name):
    entry = write(world.actor(world.clinician))
    response = signed_in(world.clinician).get(reverse(name, args=[entry.pk]))
    assert response.status_code == 200
    assert CANARY in response.content.decode() or name == "journal_entry_delete"


def test_it_answers_a_missing_entry_as_it_answers_another_s(world):
    http = signed_in(world.colleague)
    missing = http.get(reverse("journal_entry", args=[999_999]))
    entry = write(world.actor(world.clinician))
    theirs = http.get(reverse("journal_entry", args=[entry.pk]))
    assert missing.status_code == theirs.status_code == 404
    assert missing.content == theirs.content


@pytest.mark.parametrize("name", LIST_PAGES)
@pytest.mark.parametrize("role", OTHERS)
def test_it_shows_no_one_else_anything_of_the_journal(world, name, role):
    entry = write(world.actor(world.clinician), tags=("CANARY-TAG-ospr",))
    WellbeingCheckin.objects.create(
        author=world.clinician.user, energy=1, load=9, meaning=2, support=3
    )
    response = _http(world, role).get(reverse(name), {"q": "CANARY"})
    body = response.content.decode(errors="replace")
    assert CANARY not in body
    assert "CANARY-TAG-ospr" not in body
    assert f"/journal/{entry.pk}/" not in body
    if name == "wellbeing" and response.status_code == 200:
        assert "No check-ins yet." in body  # their own (empty) page, not the clinician's


def test_it_offers_no_journal_or_wellbeing_in_the_api():
    paths = " ".join(schema()["paths"])
    assert "journal" not in paths
    assert "wellbeing" not in paths


def test_it_shows_the_journal_link_to_clinical_members_only(world):
    assert 'href="/journal/"' in signed_in(world.clinician).get(reverse("home")).content.decode()
    admin_page = signed_in(world.admin).get(reverse("manage_users")).content.decode()
    assert 'href="/journal/"' not in admin_page
