"""The production profile passes Django's deployment checks and sends the production headers.

Each test starts a fresh interpreter with ALLIANCE_PROFILE=production, as a server would be.
"""

from __future__ import annotations

import json
import secrets
import sys

from cryptography.fernet import Fernet

from conftest import scratch_env, scratch_run

HEADERS = """
import json, django
django.setup()
from django.test import Client
http = Client(HTTP_HOST="alliance.example.org")
secure = http.get("/login/", secure=True)
plain = http.get("/login/")
print(json.dumps({
    "hsts": secure.headers.get("Strict-Transport-Security"),
    "cookies": {name: dict(morsel) for name, morsel in secure.cookies.items()},
    "redirect": [plain.status_code, plain.headers.get("Location")],
}))
"""


def production(tmp_path, **extra: str) -> dict[str, str]:
    env = scratch_env(tmp_path, f"sqlite:///{tmp_path / 'deploy.sqlite3'}")
    env.update(
        {
            "ALLIANCE_PROFILE": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "alliance.example.org",
            "ALLIANCE_JOURNAL_KEYS": Fernet.generate_key().decode(),
            "EMAIL_HOST": "mail.example.org",
            **extra,
        }
    )
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a server would not.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    for name in ("ALLIANCE_DEBUG", "ALLIANCE_SSL_REDIRECT", "ALLIANCE_HSTS_SECONDS"):
        if name not in extra:
            env.pop(name, None)
    return env


def test_the_production_profile_passes_the_deployment_checks(tmp_path):
    done = scratch_run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production(tmp_path),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_deployment_checks_fail_when_production_drops_https(tmp_path):
    done = scratch_run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production(tmp_path, ALLIANCE_SSL_REDIRECT="false"),
    )

    assert done.returncode != 0
    assert "security.W008" in done.stderr + done.stdout


def test_production_sends_hsts_secure_cookies_and_redirects_to_https(tmp_path):
    done = scratch_run([sys.executable, "-c", HEADERS], production(tmp_path))

    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["cookies"]["csrftoken"]["secure"] is True
    assert seen["cookies"]["csrftoken"]["samesite"] == "Lax"
    assert seen["redirect"] == [301, "https://alliance.example.org/login/"]
