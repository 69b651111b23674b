"""What an attacker gets from guessing: few checks an hour, no permanent lock-out, no use of a
session after sign-out, no second use of a two-factor code.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import pyotp
import pytest
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils import timezone

from alliance.accounts import actions
from alliance.accounts.models import LoginFailure, User
from alliance.accounts.models import SignInSession as Session
from conftest import ADMIN_TOTP_SECRET, PASSWORD, scratch_env, scratch_run


class Clock:
    """timezone.now(), moved by hand."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def checks(monkeypatch):
    """The times at which a password was really checked."""
    seen = []
    real = actions.authenticate  # type: ignore[attr-defined]

    def counting(request, **credentials):
        seen.append(timezone.now())
        return real(request, **credentials)

    monkeypatch.setattr(actions, "authenticate", counting)
    return seen


def attempt(username: str, password: str) -> User | None:
    return actions.check_password_login(RequestFactory().post("/login/"), username, password)


def test_it_checks_at_most_100_passwords_an_hour_however_loose_the_settings(
    world, settings, clock, checks
):
    settings.LOGIN_FAILURE_LIMIT = 10_000
    settings.LOGIN_FAILURE_WINDOW = 24 * 3600
    for _ in range(130):
        attempt("clinician", "not-the-password")
        clock.advance(seconds=10)

    assert len(checks) == actions.HOURLY_CEILING == 100
    assert attempt("clinician", PASSWORD) is None  # within the hour, even the right one waits
    clock.advance(hours=1)
    assert attempt("clinician", PASSWORD) == world.clinician.user


def test_an_attacker_guessing_for_hours_gets_few_checks_and_never_a_permanent_lock(
    world, clock, checks
):
    start = clock.now
    for _ in range(3 * 60):  # a guess every minute for three hours
        attempt("clinician", "not-the-password")
        clock.advance(minutes=1)

    for hour in range(3):
        begin = start + timedelta(hours=hour)
        in_hour = [t for t in checks if begin <= t < begin + timedelta(hours=1)]
        assert len(in_hour) <= 100
    assert len(checks) <= 3 * 4 * 5 + 5  # five per 15-minute window
    clock.advance(minutes=15)  # the attacker stops: one window later the user is back
    assert attempt("clinician", PASSWORD) == world.clinician.user


def test_guessing_while_throttled_does_not_lengthen_the_wait(world, clock, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        attempt("clinician", "not-the-password")
    for _ in range(14):
        clock.advance(minutes=1)
        assert attempt("clinician", "not-the-password") is None  # refused unchecked

    clock.advance(minutes=1, seconds=1)

    assert attempt("clinician", PASSWORD) == world.clinician.user


def test_a_right_password_leaves_no_failure_behind(world):
    assert attempt("clinician", PASSWORD) == world.clinician.user
    assert LoginFailure.objects.count() == 0


PARALLEL = """
import json, sys, threading, time, django
django.setup()
from django.db import connection
from django.test import RequestFactory
from alliance.accounts import actions
from alliance.accounts.models import LoginFailure, User
User.objects.create_user(username="target", password="the-right-password-0")
real, checked, lock = actions.authenticate, [], threading.Lock()
def slow(request, **credentials):  # as long as Argon2 takes on a busy server
    with lock:
        checked.append(1)
    time.sleep(0.3)
    return real(request, **credentials)
actions.authenticate = slow
start = threading.Barrier(int(sys.argv[1]))
def guess(n):
    start.wait()
    try:
        actions.check_password_login(RequestFactory().post("/login/"), "target", f"guess-{n}")
    finally:
        connection.close()
threads = [threading.Thread(target=guess, args=(n,)) for n in range(int(sys.argv[1]))]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"checked": len(checked), "failures": LoginFailure.objects.count()}))
"""


def test_parallel_guesses_cannot_pass_the_throttle_together(tmp_path, scratch_database_url):
    env = scratch_env(tmp_path, scratch_database_url)
    assert scratch_run([sys.executable, "-m", "alliance.cli", "migrate"], env).returncode == 0

    done = scratch_run([sys.executable, "-c", PARALLEL, "12"], env)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"checked": 5, "failures": 5}


# --- sessions end on the server ---------------------------------------------------------------


def test_a_session_cookie_replayed_after_sign_out_is_refused(world):
    browser = HttpClient()
    browser.post("/login/", {"username": "clinician", "password": PASSWORD})
    stolen = browser.cookies["sessionid"].value
    assert browser.get("/").status_code == 200

    browser.post("/logout/")

    assert not Session.objects.filter(session_key=stolen).exists()
    replay = HttpClient()
    replay.cookies["sessionid"] = stolen
    assert replay.get("/")["Location"].startswith("/login/")
    assert replay.get("/api/me").status_code == 401


# --- a two-factor code works once -------------------------------------------------------------


def test_a_code_cannot_be_used_twice_within_its_time_step(world, clock):
    code = pyotp.TOTP(ADMIN_TOTP_SECRET).at(clock.now)
    admin = world.admin.user

    assert actions.verify_totp(admin, code)
    assert not actions.verify_totp(admin, code)  # same code, same 30 seconds
    clock.advance(seconds=29)
    assert not actions.verify_totp(admin, code)  # still within the drift allowed


def test_a_code_from_an_earlier_step_is_refused_after_a_later_one(world, clock):
    totp = pyotp.TOTP(ADMIN_TOTP_SECRET)
    earlier = totp.at(clock.now - timedelta(seconds=30))
    admin = world.admin.user

    assert actions.verify_totp(admin, totp.at(clock.now))
    assert not actions.verify_totp(admin, earlier)  # within the drift, but older than used
