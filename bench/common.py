"""What the database benchmarks share: fresh databases, child processes, percentiles, BENCH lines.

The benchmark scripts themselves never set Django up in the measuring process: each database
run happens in child processes started with ``bench.bare_settings`` and that database's
``DATABASE_URL``, so one script can measure SQLite and PostgreSQL in turn.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
SETTINGS = "bench.bare_settings"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def bench_line(name: str, figure: str, target: str, passed: bool) -> str:
    return f"BENCH {name} {figure} target {target} {'PASS' if passed else 'FAIL'}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p50: fraction 0.5) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Database:
    """One fresh database for one run: its label, DATABASE_URL and data directory."""

    label: str  # "sqlite" or "postgresql"
    url: str  # "" means the default SQLite file under data_dir
    data_dir: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            ALLIANCE_DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.url,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
            PYTHONUNBUFFERED="1",
            EMAIL_BACKEND="memory",  # queued notices are sent nowhere
        )
        env.pop("ALLIANCE_PROFILE", None)
        env.pop("ALLIANCE_DEBUG", None)
        return env


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as tmp:
        yield Database("sqlite", "", Path(tmp))


class PostgresUnreachable(Exception):
    pass


def postgres_admin_url() -> str:
    return os.environ.get("ALLIANCE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)


@contextmanager
def postgres_database() -> Iterator[Database]:
    """A fresh ``alliance_bench_<random>`` database, dropped afterwards whatever happens."""
    import psycopg

    admin = postgres_admin_url()
    name = f"alliance_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresUnreachable(f"{_safe(admin)}: {first}") from None
    parts = urlsplit(admin)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    try:
        with tempfile.TemporaryDirectory(prefix="alliance-bench-pg-") as tmp:
            yield Database("postgresql", url, Path(tmp))
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def run_child(module: str, args: Sequence[str], db: Database, *, timeout: float) -> str:
    """Run ``python -m module args`` for this database; its stdout, or an error with stderr."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=db.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


@contextmanager
def process_group(
    command: Sequence[str], db: Database, log: IO[bytes], *, grace: float = 10.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a command in its own process group; the whole group is stopped on the way out."""
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        list(command),
        cwd=REPO,
        env=db.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_group(process, grace=grace)


def stop_group(process: subprocess.Popen[bytes], *, grace: float) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(process.pid):
            return
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def setup_django() -> None:
    """For child processes: Django with the bench settings and this run's database."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()


def on_both_databases(
    measure: Callable[[Database], list[str]],
    missing: Sequence[str],
    sqlite_title: str = "SQLite (fresh file)",
) -> int:
    """Measure on a fresh SQLite file, then on a fresh PostgreSQL database; print every BENCH
    line and return the exit code (1 when one is not PASS). When PostgreSQL does not answer its
    run is left out, and with CI=true the benchmarks named in `missing` fail instead."""
    lines: list[str] = []
    print(f"==> {sqlite_title}")
    with sqlite_database() as db:
        lines += measure(db)
    print("==> PostgreSQL (fresh database)")
    try:
        with postgres_database() as db:
            lines += measure(db)
    except PostgresUnreachable as exc:
        if in_ci():
            print(f"  PostgreSQL is unreachable ({exc}); CI=true, so this fails")
            lines += [bench_line(name, "n/a", "-", False) for name in missing]
        else:
            print(f"  PostgreSQL is unreachable ({exc}): the PostgreSQL run was left out")
    for line in lines:
        print(line)
    return 0 if all(line.endswith("PASS") for line in lines) else 1
