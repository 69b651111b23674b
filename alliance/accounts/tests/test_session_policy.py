"""Sessions end after an idle spell and after an absolute lifetime; both are audited."""

from __future__ import annotations

import time

from django.contrib.auth import SESSION_KEY

from alliance.accounts.middleware import SEEN_WRITE_INTERVAL
from alliance.audit.models import AuditEntry


def age_session(client, **seconds_ago):
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_it_signs_out_after_the_idle_timeout_and_says_why(world, as_member, settings):
    client = as_member(world.clinician)
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT + 5)

    response = client.get("/", follow=True)

    minutes = settings.SESSION_IDLE_TIMEOUT // 60
    assert response.redirect_chain[0][0] == "/login/"
    assert f"You were signed out after {minutes} minutes without activity." in (
        response.content.decode()
    )
    assert SESSION_KEY not in client.session
    entry = AuditEntry.objects.get(action="logout")
    assert entry.actor_id == world.clinician.user_id
    assert entry.organisation_id == world.org.pk


def test_it_keeps_a_session_that_was_active_within_the_idle_timeout(world, as_member, settings):
    client = as_member(world.clinician)
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT - 60)

    response = client.get("/")

    assert response.status_code == 200
    assert client.session[SESSION_KEY] == str(world.clinician.user_id)
    assert time.time() - client.session["seen_at"] < 5  # the idle clock was reset
    assert not AuditEntry.objects.filter(action="logout").exists()


def test_it_writes_the_idle_clock_at_most_once_a_minute(world, as_member):
    client = as_member(world.clinician)
    age_session(client, seen_at=SEEN_WRITE_INTERVAL - 20)
    before = client.session["seen_at"]

    client.get("/")

    assert client.session["seen_at"] == before


def test_it_signs_out_at_the_absolute_lifetime_however_active(world, as_member, settings):
    client = as_member(world.clinician)
    age_session(client, signed_in_at=settings.SESSION_MAX_AGE + 5, seen_at=1)

    response = client.get("/", follow=True)

    assert "Your session reached its time limit. Please sign in again." in (
        response.content.decode()
    )
    assert SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="logout", actor_id=world.clinician.user_id).count() == 1


def test_it_applies_the_policy_to_the_api_too(world, as_member, settings):
    client = as_member(world.clinician)
    assert client.get("/api/me").status_code == 200
    age_session(client, seen_at=settings.SESSION_IDLE_TIMEOUT + 5)

    response = client.get("/api/me")

    assert response.status_code == 302
    assert "clinician" not in response.content.decode()
    assert SESSION_KEY not in client.session


def test_it_starts_the_lifetime_clock_of_a_session_that_lacks_one(world, client):
    client.force_login(world.clinician.user)  # a sign-in that did not go through the login page
    assert "signed_in_at" not in client.session

    client.get("/")

    assert time.time() - client.session["signed_in_at"] < 5
