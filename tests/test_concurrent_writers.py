"""Several processes writing at once: no "database is locked", no broken audit chain.

SQLite runs in WAL mode with BEGIN IMMEDIATE and a busy timeout (alliance/config.py); PostgreSQL
serialises each chain on its head row (the workers here write to one chain per clinic, not to
the clinic's several lanes, so that they contend). Half the workers append inside transactions,
half outside one (a single statement, as a page's reads are recorded). Both databases are
exercised with real processes on a real file or server, not the test database.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import scratch_env, scratch_run

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 6
ENTRIES_EACH = 40
WORKER = """
import sys, django
django.setup()
from django.db import transaction
from alliance.audit import log
from alliance.audit.log import record
log.LANES = 1  # one chain per clinic, so the workers queue on its head: the lock is what is tested
worker = int(sys.argv[1])
for n in range(int(sys.argv[2])):
    if worker % 2:  # outside a transaction, as a page's reads are recorded: one statement
        record("load.test", organisation_id=1 + n % 2, detail={"worker": worker, "n": n})
        continue
    with transaction.atomic():
        record("load.test", organisation_id=1 + n % 2, detail={"worker": worker, "n": n})
"""


def test_concurrent_writers_never_see_a_locked_database_and_keep_the_chain_whole(
    tmp_path, scratch_database_url
):
    env = scratch_env(tmp_path, scratch_database_url)
    migrate = scratch_run([sys.executable, "-m", "alliance.cli", "migrate"], env)
    assert migrate.returncode == 0, migrate.stderr
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(w), str(ENTRIES_EACH)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WORKERS)
    ]
    errors = []
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        if worker.returncode != 0:
            errors.append(stderr.strip().splitlines()[-1])
    assert errors == []
    verify = scratch_run([sys.executable, "-m", "alliance.cli", "audit", "verify"], env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith(f"OK: {WORKERS * ENTRIES_EACH} audit entries in 2 chains")
