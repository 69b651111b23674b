"""`alliance backup` and `alliance restore` on real databases of the kind this run tests.

A scratch database gets the demo clinic, the test world and audited changes; its backup is
restored into a fresh database, which must then hold the same rows (Django's own dumpdata of
both is compared, independently of the manifest's hashes) and an audit trail that verifies. A
backup taken while another process keeps writing must be one consistent moment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, scratch_database, scratch_env, scratch_run

ALLIANCE = [sys.executable, "-m", "alliance.cli"]
SETUP = """
import django
django.setup()
from alliance.accounts.tokens import do_create_token
from alliance.clients.access import access_client
from alliance.demo.generate import load_demo
from conftest import build_world
load_demo(seed=5, clients=3)
world = build_world()
actor = world.actor(world.clinician)
do_create_token(actor, "backup test")
for _ in range(5):
    access_client(actor, world.own_client.pk)
"""
# Each transaction adds a client and its audit entry; a torn copy would hold one without the
# other. The writer stops when the stop file appears (or after a minute at most).
WRITER = """
import sys, time, django
from pathlib import Path
django.setup()
from django.db import transaction
from alliance.accounts.models import Organisation
from alliance.audit.log import record
from alliance.clients.models import Client
org = Organisation.objects.order_by("pk").first()
stop, deadline, n = Path(sys.argv[1]), time.monotonic() + 60, 0
while not stop.exists() and time.monotonic() < deadline:
    with transaction.atomic():
        client = Client.objects.create(
            organisation=org, display_name=f"Writer {n}", record_number=f"W-{n}"
        )
        record("backup.test_write", organisation_id=org.pk, client_id=client.pk)
    n += 1
    if n == 1:
        print("writing", flush=True)
print(n, flush=True)
"""
COUNT_WRITES = """
import json, django
django.setup()
from alliance.audit.models import AuditEntry
from alliance.clients.models import Client
print(json.dumps({
    "clients": Client.objects.filter(display_name__startswith="Writer ").count(),
    "entries": AuditEntry.objects.filter(action="backup.test_write").count(),
}))
"""


def alliance(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return scratch_run([*ALLIANCE, *args], env)  # type: ignore[no-any-return]


def dumpdata(env: dict[str, str]) -> str:
    done = alliance(env, "manage", "dumpdata", "--indent", "1")
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("alliance: ")
    assert words in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    """A migrated scratch database with data in it, its environment and a backup of it."""
    folder = tmp_path_factory.mktemp("backup-source")
    with scratch_database(folder / "source.sqlite3") as url:
        env = scratch_env(folder, url)
        assert alliance(env, "migrate").returncode == 0
        made = scratch_run([sys.executable, "-c", SETUP], env)
        assert made.returncode == 0, made.stderr
        done = alliance(env, "backup", str(folder / "backup.zip"))
        assert done.returncode == 0, done.stderr
        yield env, folder / "backup.zip"


def test_it_restores_a_backup_into_a_fresh_database_row_for_row(source, tmp_path):
    env, backup = source
    with scratch_database(tmp_path / "restored.sqlite3") as url:
        restored_env = scratch_env(tmp_path, url)
        done = alliance(restored_env, "restore", str(backup))

        assert done.returncode == 0, done.stderr
        assert "every table matches its row count and hash" in done.stdout
        assert "Audit trail: OK:" in done.stdout
        assert dumpdata(restored_env) == dumpdata(env)
        verified = alliance(restored_env, "audit", "verify")
        assert verified.returncode == 0
        assert verified.stdout.startswith("OK: ")
        assert " 0 audit entries" not in verified.stdout


def test_the_manifest_names_every_table_with_its_rows_and_hash(source):
    _, backup = source
    with zipfile.ZipFile(backup) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        payload = archive.namelist()
    assert manifest["format"] == "alliance-backup"
    assert manifest["version"] == 1
    assert manifest["engine"] in {"sqlite", "postgresql"}
    assert manifest["created_at"].endswith("Z")
    assert manifest["payload"]["name"] in payload
    tables = manifest["tables"]
    assert tables["audit_auditentry"]["rows"] >= 6  # the demo's, the token's and 5 reads
    assert tables["clients_client"]["rows"] >= 6
    assert all(len(t["sha256"]) == 64 for t in tables.values())
    assert len(manifest["content_sha256"]) == 64


def test_it_refuses_to_restore_over_a_database_that_holds_tables_unless_forced(source, tmp_path):
    env, backup = source
    with scratch_database(tmp_path / "busy.sqlite3") as url:
        busy_env = scratch_env(tmp_path, url)
        assert alliance(busy_env, "migrate").returncode == 0

        refused = alliance(busy_env, "restore", str(backup))
        one_line_error(refused, "is not empty")

        forced = alliance(busy_env, "restore", str(backup), "--force")
        assert forced.returncode == 0, forced.stderr
        assert dumpdata(busy_env) == dumpdata(env)


def test_it_refuses_bad_paths_and_damaged_backups_in_one_line(source, tmp_path):
    env, backup = source
    one_line_error(alliance(env, "backup", str(tmp_path / "no" / "such.zip")), "does not exist")
    one_line_error(alliance(env, "backup", str(backup)), "already exists")
    one_line_error(alliance(env, "restore", str(tmp_path / "missing.zip")), "is not a file")
    (tmp_path / "notes.zip").write_text("not a backup", encoding="utf-8")
    one_line_error(alliance(env, "restore", str(tmp_path / "notes.zip")), "not an Alliance")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(backup) as original, zipfile.ZipFile(damaged, "w") as copy:
        for name in original.namelist():
            data = original.read(name)
            if name != "manifest.json":
                data = data[:-100] + bytes(100)  # the end of the database, zeroed
            copy.writestr(name, data)
    with scratch_database(tmp_path / "target.sqlite3") as url:
        target_env = scratch_env(tmp_path, url)
        one_line_error(alliance(target_env, "restore", str(damaged)), "is damaged")
        assert alliance(target_env, "manage", "showmigrations").stdout.count("[X]") == 0


def test_a_backup_taken_while_another_process_writes_is_one_consistent_moment(source, tmp_path):
    env, _ = source
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(stop)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        first = writer.stdout.readline().strip()
        assert first == "writing", writer.communicate(timeout=60)[1]
        backup = tmp_path / "during.zip"
        taken = alliance(env, "backup", str(backup))
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    written = int(out.strip())
    assert taken.returncode == 0, taken.stderr
    with scratch_database(tmp_path / "restored.sqlite3") as url:
        restored_env = scratch_env(tmp_path, url)
        done = alliance(restored_env, "restore", str(backup))
        assert done.returncode == 0, done.stdout + done.stderr
        assert alliance(restored_env, "audit", "verify").stdout.startswith("OK: ")
        counted = scratch_run([sys.executable, "-c", COUNT_WRITES], restored_env)
    kept = json.loads(counted.stdout)
    assert kept["clients"] == kept["entries"]  # each client with its audit entry, or neither
    assert 0 < kept["entries"] < written  # taken in the middle of the writing
