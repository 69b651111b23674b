"""Settings read from the environment fail loudly in one line; the `alliance` command works.

The subprocess tests start real `alliance` processes against a temporary data directory, so
each gets a clean environment and never touches the developer's database.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from alliance import config
from alliance.config import SettingsError

ROOT = Path(__file__).resolve().parent.parent
ALLIANCE = [sys.executable, "-m", "alliance.cli"]
GOOD_KEY = "test-only-secret-key-not-for-production-use-0123456789"
STRONG_PASSWORD = "violet-tangerine-harbour"


def clean_env(data_dir: Path, **overrides: str | None) -> dict[str, str]:
    """The caller's environment without any setting of ours, pointed at data_dir."""
    ours = ("ALLIANCE_", "SECRET_KEY", "EMAIL_", "DATABASE_URL", "DJANGO_", "ALLOWED_HOSTS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env["ALLIANCE_DATA_DIR"] = str(data_dir)
    for name, value in overrides.items():
        if value is not None:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], prefix: str, names: str):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix)
    assert names in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


# --- bad settings stop the command with one line ----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@db:port/x"}, "DATABASE_URL"),
        ({"ALLIANCE_PROFILE": "production", "SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "too-short-to-be-a-key"}, "SECRET_KEY"),
        ({"SECRET_KEY": None, "SECRET_KEY_FILE": "/nonexistent/alliance/key"}, "SECRET_KEY_FILE"),
        ({"EMAIL_PORT": "abc"}, "EMAIL_PORT"),
        ({"ALLIANCE_DEBUG": "maybe"}, "ALLIANCE_DEBUG"),
        ({"ALLIANCE_TIME_ZONE": "Mars/Olympus"}, "ALLIANCE_TIME_ZONE"),
        ({"ALLIANCE_LOG_LEVEL": "LOUD"}, "ALLIANCE_LOG_LEVEL"),
    ],
    ids=lambda value: "+".join(value) if isinstance(value, dict) else "",
)
def test_it_stops_the_command_with_one_line_naming_a_bad_setting(tmp_path, overrides, named):
    env = clean_env(tmp_path, **{"SECRET_KEY": GOOD_KEY, **overrides})

    result = run([*ALLIANCE, "migrate"], env, tmp_path)

    assert_one_line_error(result, "alliance:", named)
    assert "too-short-to-be-a-key" not in result.stderr  # a secret is never echoed
    assert not (tmp_path / "alliance.sqlite3").exists()


def test_it_stops_manage_py_with_one_line_naming_a_bad_setting(tmp_path):
    env = clean_env(tmp_path, SECRET_KEY=GOOD_KEY, DATABASE_URL="nonsense")

    result = run([sys.executable, str(ROOT / "manage.py"), "check"], env, tmp_path)

    assert_one_line_error(result, "manage.py:", "DATABASE_URL")


# --- a real data directory: migrate, verify, create an admin ----------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data directory migrated by `alliance migrate`, with a generated secret key."""
    path = tmp_path_factory.mktemp("alliance-data")
    result = run([*ALLIANCE, "migrate"], clean_env(path), path)
    assert result.returncode == 0, result.stderr
    return path


def test_it_migrates_a_sqlite_file_database_into_wal_mode(data_dir):
    with sqlite3.connect(data_dir / "alliance.sqlite3") as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}

    assert mode == "wal"
    assert {"accounts_user", "audit_auditentry", "django_migrations"} <= tables


def test_it_generates_a_private_secret_key_on_first_run_and_keeps_it(data_dir):
    key_file = data_dir / "secret_key"
    key = key_file.read_text()

    result = run([*ALLIANCE, "audit", "verify"], clean_env(data_dir), data_dir)

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key.strip()) >= 32
    assert key_file.read_text() == key


def test_it_verifies_the_audit_trail_of_a_fresh_database(data_dir):
    result = run([*ALLIANCE, "audit", "verify"], clean_env(data_dir), data_dir)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    assert "audit entries" in result.stdout


@pytest.mark.parametrize(
    "command",
    [["audit", "verify"], ["backup", "copy.alliance"], ["reset-two-factor", "nobody"]],
)
def test_a_command_on_a_database_never_migrated_says_so_in_one_line(tmp_path, command):
    result = run([*ALLIANCE, *command], clean_env(tmp_path), tmp_path)

    assert_one_line_error(result, "alliance:", "run `alliance migrate` first")
    assert not (tmp_path / "copy.alliance").exists()


def test_a_backup_checks_its_file_name_before_the_database(tmp_path):
    (tmp_path / "taken.alliance").write_text("")

    result = run([*ALLIANCE, "backup", "taken.alliance"], clean_env(tmp_path), tmp_path)

    assert_one_line_error(result, "alliance:", "already exists")


def test_a_database_a_migration_behind_can_still_be_backed_up_and_verified(tmp_path):
    """The upgrade's order: new code, a backup, then migrate. Reading commands take a schema
    a migration behind; only one never migrated is refused."""
    env = clean_env(tmp_path)
    assert run([*ALLIANCE, "migrate"], env, tmp_path).returncode == 0
    behind = [*ALLIANCE, "manage", "migrate", "accounts", "0006_sign_in_sessions", "-v", "0"]
    assert run(behind, env, tmp_path).returncode == 0

    backup = run([*ALLIANCE, "backup", "before-upgrade.alliance"], env, tmp_path)
    verify = run([*ALLIANCE, "audit", "verify"], env, tmp_path)

    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "before-upgrade.alliance").exists()
    assert verify.returncode == 0, verify.stderr


def test_it_creates_a_clinic_and_its_admin_from_the_command_line(data_dir):
    env = clean_env(data_dir, ALLIANCE_ADMIN_PASSWORD=STRONG_PASSWORD)
    args = [*ALLIANCE, "createadmin", "boss", "--organisation", "Riverside", "--slug", "riverside"]

    result = run(args, env, data_dir)

    assert result.returncode == 0, result.stderr
    assert "Created admin 'boss' of 'Riverside'." in result.stdout
    assert STRONG_PASSWORD not in result.stdout + result.stderr
    with sqlite3.connect(data_dir / "alliance.sqlite3") as db:
        row = db.execute(
            "SELECT u.password, m.role, o.name FROM accounts_user u"
            " JOIN accounts_membership m ON m.user_id = u.id"
            " JOIN accounts_organisation o ON o.id = m.organisation_id"
            " WHERE u.username = 'boss'"
        ).fetchone()
        actions = [r[0] for r in db.execute("SELECT action FROM audit_auditentry")]
    password_hash, role, clinic = row
    assert password_hash.startswith("argon2")  # the production hasher, not the tests' MD5
    assert (role, clinic) == ("admin", "Riverside")
    assert "user.create" in actions
    verify = run([*ALLIANCE, "audit", "verify"], clean_env(data_dir), data_dir)
    assert verify.returncode == 0
    assert verify.stdout.startswith("OK: ")


def test_it_refuses_a_weak_admin_password_in_one_line(data_dir):
    env = clean_env(data_dir, ALLIANCE_ADMIN_PASSWORD="short")
    args = [*ALLIANCE, "createadmin", "weakling", "--organisation", "Weak", "--slug", "weak"]

    result = run(args, env, data_dir)

    assert_one_line_error(result, "alliance:", "too short")
    with sqlite3.connect(data_dir / "alliance.sqlite3") as db:
        users = db.execute("SELECT count(*) FROM accounts_user WHERE username='weakling'")
        orgs = db.execute("SELECT count(*) FROM accounts_organisation WHERE slug='weak'")
        assert users.fetchone()[0] == 0
        assert orgs.fetchone()[0] == 0


# --- DATABASE_URL -----------------------------------------------------------------------------


def test_it_reads_a_relative_sqlite_url(tmp_path):
    db = config.database("sqlite:///var/db.sqlite3", tmp_path)

    assert db["ENGINE"] == "alliance.sqlite"  # Django's SQLite with a fair writer queue
    assert db["NAME"] == "var/db.sqlite3"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_it_reads_an_absolute_sqlite_url(tmp_path):
    db = config.database("sqlite:////srv/alliance/db.sqlite3", tmp_path)

    assert db["NAME"] == "/srv/alliance/db.sqlite3"


def test_it_refuses_a_sqlite_url_with_two_slashes(tmp_path):
    with pytest.raises(SettingsError, match=r"DATABASE_URL.*three slashes"):
        config.database("sqlite://var/db.sqlite3", tmp_path)


def test_it_refuses_a_sqlite_url_without_a_path(tmp_path):
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        config.database("sqlite:///", tmp_path)


def test_it_defaults_to_sqlite_in_the_data_directory(tmp_path):
    data_dir = tmp_path / "new"

    db = config.database(None, data_dir)

    assert db["NAME"] == str(data_dir / "alliance.sqlite3")
    assert data_dir.is_dir()


def test_it_reads_a_postgresql_url_with_every_part(tmp_path):
    db = config.database(
        "postgresql://user:p%40ss@db.example:5433/clinic?sslmode=require", tmp_path
    )

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("clinic", "user", "p@ss")
    assert (db["HOST"], db["PORT"]) == ("db.example", "5433")
    assert db["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": config.PREPARE_THRESHOLD,
    }


def test_prepared_statements_can_be_turned_off_for_a_connection_pooler(tmp_path):
    db = config.database("postgresql://db.example/clinic?prepare_threshold=off", tmp_path)

    assert db["OPTIONS"]["prepare_threshold"] is None
    assert (
        config.database("postgresql://db/c?prepare_threshold=0", tmp_path)["OPTIONS"][
            "prepare_threshold"
        ]
        == 0
    )  # psycopg's meaning: prepared at the first run
    assert (
        config.database("postgresql://db/c?prepare_threshold=2", tmp_path)["OPTIONS"][
            "prepare_threshold"
        ]
        == 2
    )


def test_it_refuses_a_prepare_threshold_that_is_not_a_number(tmp_path):
    with pytest.raises(config.SettingsError, match="prepare_threshold='soon'"):
        config.database("postgresql://db.example/clinic?prepare_threshold=soon", tmp_path)


def test_it_reads_a_short_postgres_url(tmp_path):
    db = config.database("postgres://localhost", tmp_path)

    assert (db["NAME"], db["HOST"], db["PORT"], db["USER"]) == ("alliance", "localhost", "", "")


@pytest.mark.parametrize("url", ["postgresql://u@db:port/x", "postgresql://u@db:99999/x"])
def test_it_refuses_a_postgresql_url_with_a_bad_port(tmp_path, url):
    with pytest.raises(SettingsError, match=r"DATABASE_URL.*port"):
        config.database(url, tmp_path)


@pytest.mark.parametrize("url", ["nonsense", "mysql://db/x", "http://db/x"])
def test_it_refuses_a_database_url_it_does_not_understand(tmp_path, url):
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        config.database(url, tmp_path)


# --- secrets and simple values ----------------------------------------------------------------


def test_it_creates_the_secret_key_file_private_and_reuses_it(tmp_path):
    data_dir = tmp_path / "data"

    first = config.secret_key({}, data_dir, production=False)
    second = config.secret_key({}, data_dir, production=False)

    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert first == second == key_file.read_text()
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no draft left behind


def test_it_refuses_an_empty_generated_key_file(tmp_path):
    (tmp_path / "secret_key").write_text("\n")

    with pytest.raises(SettingsError, match="secret_key"):
        config.secret_key({}, tmp_path, production=False)


def test_it_prefers_a_given_secret_key_and_writes_no_file(tmp_path):
    key = config.secret_key({"SECRET_KEY": GOOD_KEY}, tmp_path, production=True)

    assert key == GOOD_KEY
    assert not (tmp_path / "secret_key").exists()


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text(GOOD_KEY + "\n")

    key = config.secret_key({"SECRET_KEY_FILE": str(path)}, tmp_path, production=True)

    assert key == GOOD_KEY


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "required with ALLIANCE_PROFILE=production"),
        ({"SECRET_KEY": "short"}, "shorter than 50"),
        ({"SECRET_KEY": "xy" * 30}, "nearly all one character"),
        ({"SECRET_KEY": GOOD_KEY, "SECRET_KEY_FILE": "/x"}, "not both"),
        ({"SECRET_KEY_FILE": "/nonexistent/key"}, r"SECRET_KEY_FILE.*cannot be read"),
    ],
)
def test_it_refuses_a_missing_or_bad_production_secret_key(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        config.secret_key(env, tmp_path, production=True)


def test_it_refuses_an_empty_secret_file(tmp_path):
    path = tmp_path / "empty"
    path.write_text("  \n")

    with pytest.raises(SettingsError, match=r"SECRET_KEY_FILE.*empty"):
        config.read_secret({"SECRET_KEY_FILE": str(path)}, "SECRET_KEY")


@pytest.mark.parametrize(
    ("raw", "expected"), [("yes", True), ("TRUE", True), ("0", False), ("off", False)]
)
def test_it_reads_yes_no_values(raw, expected):
    assert config.env_bool({"X": raw}, "X", not expected) is expected


def test_it_refuses_a_value_that_is_neither_yes_nor_no():
    with pytest.raises(SettingsError, match="ALLIANCE_DEBUG='maybe'"):
        config.env_bool({"ALLIANCE_DEBUG": "maybe"}, "ALLIANCE_DEBUG", False)


def test_it_reads_whole_numbers_and_refuses_others():
    assert config.env_int({"EMAIL_PORT": "2525"}, "EMAIL_PORT", 587) == 2525
    assert config.env_int({}, "EMAIL_PORT", 587) == 587
    with pytest.raises(SettingsError, match="EMAIL_PORT='abc' is not a whole number"):
        config.env_int({"EMAIL_PORT": "abc"}, "EMAIL_PORT", 587)
    with pytest.raises(SettingsError, match="too small"):
        config.env_int({"EMAIL_PORT": "0"}, "EMAIL_PORT", 587, minimum=1)


def test_it_reads_time_zones_and_log_levels():
    assert config.env_time_zone({"TZ_NAME": "America/Chicago"}, "TZ_NAME", "UTC") == (
        "America/Chicago"
    )
    assert config.env_choice({"LEVEL": "warning"}, "LEVEL", "INFO", ["INFO", "WARNING"]) == (
        "WARNING"
    )
    with pytest.raises(SettingsError, match="TZ_NAME"):
        config.env_time_zone({"TZ_NAME": "../../etc/passwd"}, "TZ_NAME", "UTC")


def test_it_hashes_passwords_with_argon2_in_production():
    from alliance import settings as alliance_settings

    assert alliance_settings.PASSWORD_HASHERS[0] == (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    )
    from django.contrib.auth.hashers import Argon2PasswordHasher

    assert Argon2PasswordHasher().encode("x", "saltsaltsalt").startswith("argon2$")
