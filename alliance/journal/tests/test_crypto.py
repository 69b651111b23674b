"""Encryption at rest: round trips, tampering, wrong keys, rotation, and no plaintext in a dump."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from alliance.cli import main
from alliance.config import SettingsError
from alliance.journal import crypto
from alliance.journal.access import Content, access_entry, open_token, read_entry
from alliance.journal.actions import update_entry
from alliance.journal.models import JournalEntry, JournalRevision

from .conftest import CANARY, write


def _flip_one_bit(token: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[40] ^= 0x01  # inside the ciphertext, past the version byte, time and IV
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii")


def test_it_reads_back_what_it_sealed():
    token = crypto.seal({"text": "ünïcode ✓", "tags": ["a"]})
    assert "ünïcode" not in token
    assert crypto.unseal(token) == {"text": "ünïcode ✓", "tags": ["a"]}


def test_it_refuses_a_token_with_one_flipped_bit():
    token = crypto.seal({"text": "hello"})
    with pytest.raises(crypto.Unreadable, match="altered"):
        crypto.unseal(_flip_one_bit(token))


def test_it_refuses_a_token_made_with_another_key(journal_keys: Path):
    token = crypto.seal({"text": "hello"})
    journal_keys.write_text(Fernet.generate_key().decode("ascii"), encoding="utf-8")
    crypto.forget_keys()
    with pytest.raises(crypto.Unreadable):
        crypto.unseal(token)


def test_it_says_which_key_is_malformed(journal_keys: Path):
    journal_keys.write_text(Fernet.generate_key().decode("ascii") + "\nnot-a-key\n")
    crypto.forget_keys()
    with pytest.raises(SettingsError, match="key 2 is not a Fernet key"):
        crypto.seal({"text": "x"})


def test_it_requires_keys_in_production(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(f"{crypto.ENV_NAME}_FILE")
    crypto.forget_keys()
    with override_settings(PRODUCTION=True), pytest.raises(SettingsError, match="production"):
        crypto.seal({"text": "x"})


def test_it_makes_a_private_key_file_in_the_local_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.delenv(f"{crypto.ENV_NAME}_FILE")
    crypto.forget_keys()
    with override_settings(DATA_DIR=tmp_path / "data"):
        token = crypto.seal({"text": "x"})
    made = tmp_path / "data" / crypto.LOCAL_KEY_FILE
    assert made.stat().st_mode & 0o777 == 0o600
    assert crypto.unseal(token) == {"text": "x"}


@pytest.mark.django_db
def test_it_shows_an_altered_entry_as_unreadable_not_as_garbage(world):
    actor = world.actor(world.clinician)
    entry = write(actor)
    JournalEntry.objects.filter(pk=entry.pk).update(ciphertext=_flip_one_bit(entry.ciphertext))
    shown = read_entry(access_entry(actor, entry.pk))
    assert shown.content.unreadable
    assert shown.content.text == ""


@pytest.mark.django_db
def test_it_keeps_every_entry_readable_across_a_key_rotation(world, journal_keys: Path, capsys):
    actor = world.actor(world.clinician)
    first = write(actor, "first words")
    second = write(actor, "second words")
    update_entry(actor, second.pk, 1, Content(text="second words, revised"))
    old_key = journal_keys.read_text().strip()

    assert main(["journal", "rotate-key"]) == 0

    out = capsys.readouterr().out
    assert "Re-encrypted 2 entries and 1 earlier wordings" in out
    keys = journal_keys.read_text().split()
    assert len(keys) == 2
    assert keys[1] == old_key  # the new key first; the old one kept
    assert journal_keys.stat().st_mode & 0o777 == 0o600
    # Every token now opens with the new key alone.
    only_new = MultiFernet([Fernet(keys[0])])
    tokens = [
        *JournalEntry.objects.values_list("ciphertext", flat=True),
        *JournalRevision.objects.values_list("ciphertext", flat=True),
    ]
    assert len(tokens) == 3
    for token in tokens:
        only_new.decrypt(token.encode("ascii"))
    assert open_token(JournalEntry.objects.get(pk=first.pk).ciphertext).text == "first words"
    assert (
        read_entry(JournalEntry.objects.get(pk=second.pk), history=True).history[0][1].text
        == "second words"
    )


@pytest.mark.django_db
def test_it_asks_for_the_new_key_when_keys_come_from_the_environment(
    world, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.delenv(f"{crypto.ENV_NAME}_FILE")
    monkeypatch.setenv(crypto.ENV_NAME, Fernet.generate_key().decode("ascii"))
    crypto.forget_keys()
    write(world.actor(world.clinician))

    assert main(["journal", "rotate-key"]) == 2

    captured = capsys.readouterr()
    Fernet(captured.out.strip())  # a usable key to add
    assert "--reencrypt" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


@pytest.mark.django_db
def test_it_leaves_no_plaintext_in_a_database_dump(world, as_member):
    actor = world.actor(world.clinician)
    entry = write(actor, tags=(f"tag-{CANARY}",), client_ref=world.own_client.pk)
    update_entry(actor, entry.pk, 1, Content(text=f"edited {CANARY}"))
    http = as_member(world.clinician)
    http.get("/journal/", {"q": CANARY})
    http.get(f"/journal/{entry.pk}/")
    http.get("/journal/export.md")

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert CANARY not in dump.getvalue()
    assert '"journal.journalentry"' in dump.getvalue()  # the dump did include the journal
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                assert CANARY not in repr(row), f"plaintext found in {table}"
