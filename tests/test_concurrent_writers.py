"""Several processes writing at once: no "database is locked", no broken audit chain.

SQLite runs in WAL mode with BEGIN IMMEDIATE and a busy timeout (alliance/config.py); PostgreSQL
serialises each chain on its head row. Both are exercised with real processes on a real file or
server, not the test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 6
ENTRIES_EACH = 40
WORKER = """
import sys, django
django.setup()
from django.db import transaction
from alliance.audit.log import record
worker = int(sys.argv[1])
for n in range(int(sys.argv[2])):
    with transaction.atomic():
        record("load.test", organisation_id=1 + n % 2, detail={"worker": worker, "n": n})
"""


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "alliance.settings",
            "ALLIANCE_DATA_DIR": str(tmp_path),
            "SECRET_KEY": "concurrency-test-secret-key-0123456789-abcdefghij",
            "DATABASE_URL": database_url,
        }
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database of the kind this run tests: a SQLite file, or a new PostgreSQL db."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'concurrent.sqlite3'}"
        return
    import psycopg

    settings = connection.settings_dict
    name = f"alliance_concurrency_{uuid.uuid4().hex[:10]}"
    params: dict[str, Any] = {
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = settings["USER"] or ""
    yield f"postgresql://{user}@{settings['HOST']}:{settings['PORT'] or 5432}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_writers_never_see_a_locked_database_and_keep_the_chain_whole(
    tmp_path, database_url
):
    env = _env(tmp_path, database_url)
    migrate = _run([sys.executable, "-m", "alliance.cli", "migrate"], env)
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
    verify = _run([sys.executable, "-m", "alliance.cli", "audit", "verify"], env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith(f"OK: {WORKERS * ENTRIES_EACH} audit entries in 2 chains")
