"""Command-line mistakes: one line on stderr, exit code 2, nothing half-done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alliance.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--port", "99999"], "--port: 99999 is outside 1 to 65535"),
        (["serve", "--port", "-1"], "is outside 1 to 65535"),
        (["serve", "--workers", "0"], "--workers: 0 is outside 1 to 64"),
        (["demo", "--clients", "-5"], "--clients: -5 is outside"),
        (["demo", "--clients", "abc"], "'abc' is not a whole number"),
        (["demo", "--clients", str(10**21)], "is outside 1 to 1000000"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(capsys, argv, says):
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert says in err


def _run(args: list[str], data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(ALLIANCE_DATA_DIR=str(data_dir), **extra)
    return subprocess.run(
        [sys.executable, "-m", "alliance.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_demo_migrates_a_new_database_and_refuses_to_load_twice(tmp_path):
    first = _run(["demo", "--clients", "2"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Every login's password is" in first.stdout
    second = _run(["demo", "--clients", "2"], tmp_path)
    assert second.returncode == 2
    assert second.stderr.strip() == (
        "alliance: the demo clinic is already in this database (use --if-empty to skip)"
    )
    assert "Traceback" not in second.stderr


def test_createadmin_without_a_password_or_terminal_says_how(tmp_path):
    done = _run(["createadmin", "boss", "--organisation", "Clinic", "--slug", "clinic"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "alliance: no password given: set ALLIANCE_ADMIN_PASSWORD or run in a terminal"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["b b", "--organisation", "C", "--slug", "c1"], "the username needs"),
        (["boss", "--organisation", "", "--slug", "c1"], "--organisation needs"),
        (["boss", "--organisation", "C", "--slug", "Bad slug!"], "--slug needs"),
        (["boss", "--organisation", "C", "--slug", "c1", "--email", "nope"], "--email"),
    ],
)
def test_createadmin_checks_its_arguments(tmp_path, args, says):
    done = _run(["createadmin", *args], tmp_path, ALLIANCE_ADMIN_PASSWORD="a-long-pass-phrase")
    assert done.returncode == 2
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_reset_two_factor_clears_it_and_is_audited(tmp_path):
    assert _run(["demo", "--clients", "1"], tmp_path).returncode == 0
    done = _run(["reset-two-factor", "admin"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "is reset" in done.stdout
    missing = _run(["reset-two-factor", "nobody"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "alliance: no user is called 'nobody'"
    verify = _run(["audit", "verify"], tmp_path)
    assert verify.returncode == 0
    assert verify.stdout.startswith("OK")
