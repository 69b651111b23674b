"""Signing in with a password: success, failure, throttling, safe redirects, signing out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.utils import timezone

from alliance.accounts.models import LoginFailure
from alliance.audit.log import first_chain
from alliance.audit.models import AuditEntry, Outcome
from conftest import PASSWORD


def post_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def test_it_signs_in_with_the_right_password_and_audits_it(world, client):
    response = post_login(client, "clinician", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(world.clinician.user_id)
    entry = AuditEntry.objects.get(action="login")
    assert entry.actor_id == world.clinician.user_id
    assert entry.organisation_id == world.org.pk
    assert entry.outcome == Outcome.OK
    assert entry.detail == {"second_factor": False}


def test_it_starts_the_session_clocks_at_sign_in(world, client):
    post_login(client, "clinician", PASSWORD)

    assert client.session["signed_in_at"] > 0
    assert client.session["seen_at"] > 0


def test_it_refuses_a_wrong_password_and_records_the_failure(world, client):
    response = post_login(client, "clinician", "not-the-password")

    assert response.status_code == 200
    assert "That username and password do not match." in response.content.decode()
    assert SESSION_KEY not in client.session
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.outcome == Outcome.DENIED
    assert entry.actor_id == world.clinician.user_id
    assert entry.organisation_id == world.org.pk
    assert LoginFailure.objects.count() == 1
    assert not AuditEntry.objects.filter(action="login").exists()


def test_it_stores_the_username_of_a_failure_only_as_a_keyed_hash(world, client):
    post_login(client, "clinician", "not-the-password")

    failure = LoginFailure.objects.get()
    assert "clinician" not in failure.username_key
    assert len(failure.username_key) == 64


def test_it_records_a_failure_for_an_unknown_username_without_an_organisation(db, client):
    response = post_login(client, "nobody-here", "whatever-password")

    assert "That username and password do not match." in response.content.decode()
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.actor_id is None
    assert entry.organisation_id is None
    assert first_chain(None) <= entry.chain < first_chain(1)  # no organisation's chains


def test_it_refuses_even_the_right_password_after_too_many_failures(world, client, settings):
    assert settings.LOGIN_FAILURE_LIMIT == 5
    for _ in range(5):
        post_login(client, "clinician", "not-the-password")

    response = post_login(client, "clinician", PASSWORD)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Too many failed attempts" in body
    assert SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="login.failed").count() == 5
    throttled = AuditEntry.objects.get(action="login.throttled")
    assert throttled.outcome == Outcome.DENIED
    assert not AuditEntry.objects.filter(action="login").exists()


def test_it_throttles_by_username_whatever_the_letter_case(world, client):
    for _ in range(5):
        post_login(client, "CLINICIAN", "not-the-password")

    response = post_login(client, "clinician", PASSWORD)

    assert "Too many failed attempts" in response.content.decode()


def test_it_does_not_throttle_another_username(world, client):
    for _ in range(5):
        post_login(client, "clinician", "not-the-password")

    response = post_login(client, "colleague", PASSWORD)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(world.colleague.user_id)


def test_it_forgets_failures_older_than_the_window(world, client, settings):
    for _ in range(5):
        post_login(client, "clinician", "not-the-password")
    old = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW + 1)
    LoginFailure.objects.update(at=old)

    response = post_login(client, "clinician", PASSWORD)

    assert response.status_code == 302


def test_it_clears_the_failures_after_a_successful_sign_in(world, client):
    for _ in range(4):
        post_login(client, "clinician", "not-the-password")

    post_login(client, "clinician", PASSWORD)

    assert LoginFailure.objects.count() == 0


def test_it_follows_a_local_next_parameter(world, client):
    response = post_login(client, "clinician", PASSWORD, next="/clients/new/")

    assert response["Location"] == "/clients/new/"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/path", "http://evil.example", "javascript:alert(1)"],
)
def test_it_never_redirects_off_site_after_sign_in(world, client, target):
    response = post_login(client, "clinician", PASSWORD, next=target)

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_it_does_not_echo_an_off_site_next_into_the_form(db, client):
    response = client.get("/login/", {"next": "https://evil.example/"})

    assert "evil.example" not in response.content.decode()


def test_it_refuses_to_sign_out_with_get(world, as_member):
    client = as_member(world.clinician)

    response = client.get("/logout/")

    assert response.status_code == 405
    assert client.session[SESSION_KEY] == str(world.clinician.user_id)
    assert not AuditEntry.objects.filter(action="logout").exists()


def test_it_signs_out_with_post_and_audits_it(world, as_member):
    client = as_member(world.clinician)

    response = client.post("/logout/", follow=True)

    assert SESSION_KEY not in client.session
    assert "You are signed out." in response.content.decode()
    entry = AuditEntry.objects.get(action="logout")
    assert entry.actor_id == world.clinician.user_id
    assert entry.organisation_id == world.org.pk
    assert client.get("/")["Location"].startswith("/login/")


def test_it_sends_a_signed_in_user_away_from_the_login_page(world, as_member):
    client = as_member(world.clinician)

    response = client.get("/login/")

    assert response.status_code == 302
    assert response["Location"] == "/"
