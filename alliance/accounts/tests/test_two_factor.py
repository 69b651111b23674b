"""Two-factor sign-in with TOTP codes, and the rule that clinic admins must use it."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY

from alliance.accounts.actions import verify_totp
from alliance.accounts.models import User
from alliance.accounts.views import PENDING_SECONDS
from alliance.audit.models import AuditEntry, Outcome
from conftest import ADMIN_TOTP_SECRET, PASSWORD


def current_code(secret=ADMIN_TOTP_SECRET):
    return pyotp.TOTP(secret).now()


def wrong_code(secret=ADMIN_TOTP_SECRET):
    """A code that is valid for none of the steps the server accepts right now."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    near = {totp.at(now + 30 * drift) for drift in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def password_step(client, username="orgadmin"):
    return client.post("/login/", {"username": username, "password": PASSWORD})


def without_totp(membership):
    User.objects.filter(pk=membership.user_id).update(totp_secret="", totp_confirmed_at=None)
    membership.user.refresh_from_db()


def test_it_asks_a_user_with_two_factor_for_a_code_before_signing_in(world, client):
    response = password_step(client)

    assert response.status_code == 302
    assert response["Location"] == "/login/code/"
    assert SESSION_KEY not in client.session
    assert not AuditEntry.objects.filter(action="login").exists()
    page = client.get("/login/code/").content.decode()
    assert "Enter your code" in page


def test_it_signs_in_with_the_right_code_and_audits_the_second_factor(world, client):
    password_step(client)

    response = client.post("/login/code/", {"code": current_code()})

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(world.admin.user_id)
    entry = AuditEntry.objects.get(action="login")
    assert entry.actor_id == world.admin.user_id
    assert entry.detail == {"second_factor": True}
    assert "pending_user" not in client.session


def test_it_keeps_the_next_parameter_across_the_code_step(world, client):
    client.post("/login/", {"username": "orgadmin", "password": PASSWORD, "next": "/manage/teams/"})

    response = client.post("/login/code/", {"code": current_code()})

    assert response["Location"] == "/manage/teams/"


def test_it_refuses_a_wrong_code_and_audits_it(world, client):
    password_step(client)

    response = client.post("/login/code/", {"code": wrong_code()})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert SESSION_KEY not in client.session
    entry = AuditEntry.objects.get(action="login.second_factor_failed")
    assert entry.outcome == Outcome.DENIED
    assert entry.actor_id == world.admin.user_id
    assert not AuditEntry.objects.filter(action="login").exists()


def test_it_refuses_a_code_that_was_already_used(world, client):
    code = current_code()
    password_step(client)
    client.post("/login/code/", {"code": code})
    client.post("/logout/")

    password_step(client)
    response = client.post("/login/code/", {"code": code})

    assert "That code is not right, or was already used" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="login").count() == 1
    assert AuditEntry.objects.filter(action="login.second_factor_failed").count() == 1


def test_it_stops_guessing_of_codes_after_too_many_wrong_ones(world, client, settings):
    password_step(client)
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        client.post("/login/code/", {"code": wrong_code()})

    last = client.post("/login/code/", {"code": wrong_code()}, follow=True)

    assert last.redirect_chain[-1][0] == "/login/"
    assert "Too many failed attempts" in last.content.decode()
    assert client.post("/login/code/", {"code": current_code()})["Location"] == "/login/"
    again = password_step(client)
    assert "Too many failed attempts" in again.content.decode()
    assert SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="login.throttled").exists()
    assert not AuditEntry.objects.filter(action="login").exists()


def test_it_refuses_even_a_right_code_while_throttled(world):
    for _ in range(5):
        assert not verify_totp(world.admin.user, wrong_code())

    assert not verify_totp(world.admin.user, current_code())

    entry = AuditEntry.objects.get(action="login.throttled")
    assert entry.detail["step"] == "code"
    assert User.objects.get(pk=world.admin.user_id).totp_last_step == 0


def test_it_expires_the_pending_code_step(world, client):
    password_step(client)
    session = client.session
    session["pending_at"] = time.time() - PENDING_SECONDS - 1
    session.save()

    response = client.post("/login/code/", {"code": current_code()}, follow=True)

    assert response.redirect_chain[-1][0] == "/login/"
    assert "Please sign in again." in response.content.decode()
    assert SESSION_KEY not in client.session
    assert not AuditEntry.objects.filter(action="login").exists()


def test_it_sends_the_code_step_without_a_password_back_to_sign_in(db, client):
    response = client.get("/login/code/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"


@pytest.mark.parametrize("path", ["/", "/manage/users/", "/manage/teams/", "/clients/new/"])
def test_it_sends_an_admin_without_two_factor_to_enrol_from_every_page(world, client, path):
    without_totp(world.admin)
    password_step(client)
    assert client.session[SESSION_KEY] == str(world.admin.user_id)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == "/account/two-factor/"


def test_it_shows_an_enrolling_admin_the_setup_page_and_the_reason(world, client):
    without_totp(world.admin)
    password_step(client)

    response = client.get("/manage/users/", follow=True)

    body = response.content.decode()
    assert "Clinic admins must turn on two-factor sign-in first." in body
    assert client.session["totp_setup_secret"] in body
    assert 'src="data:image/svg+xml' in body


def test_it_lets_an_admin_enrol_with_a_right_code_and_audits_it(world, client):
    without_totp(world.admin)
    password_step(client)
    client.get("/account/two-factor/")
    secret = client.session["totp_setup_secret"]

    response = client.post("/account/two-factor/", {"code": current_code(secret)})

    assert response.status_code == 302
    user = User.objects.get(pk=world.admin.user_id)
    assert user.has_totp
    assert user.totp_secret == secret
    entry = AuditEntry.objects.get(action="totp.enable")
    assert entry.actor_id == world.admin.user_id
    assert entry.organisation_id == world.org.pk
    assert client.get("/manage/users/").status_code == 200


def test_it_refuses_enrolment_with_a_wrong_code(world, client):
    without_totp(world.admin)
    password_step(client)
    client.get("/account/two-factor/")
    secret = client.session["totp_setup_secret"]

    response = client.post("/account/two-factor/", {"code": wrong_code(secret)})

    assert "That code does not match" in response.content.decode()
    assert not User.objects.get(pk=world.admin.user_id).has_totp
    assert not AuditEntry.objects.filter(action="totp.enable").exists()
    assert client.get("/manage/users/")["Location"] == "/account/two-factor/"


def test_it_does_not_let_an_admin_turn_two_factor_off(world, as_member):
    client = as_member(world.admin)

    page = client.get("/account/two-factor/").content.decode()
    response = client.post("/account/two-factor/", {"code": current_code()}, follow=True)

    assert "Turn it off" not in page
    assert "Clinic admins must keep two-factor sign-in on." in response.content.decode()
    assert User.objects.get(pk=world.admin.user_id).has_totp
    assert not AuditEntry.objects.filter(action="totp.disable").exists()


def test_it_lets_a_clinician_turn_two_factor_on_and_off(world, as_member):
    client = as_member(world.clinician)
    client.get("/account/two-factor/")
    secret = client.session["totp_setup_secret"]

    client.post("/account/two-factor/", {"code": current_code(secret)})
    assert User.objects.get(pk=world.clinician.user_id).has_totp
    refused = client.post("/account/two-factor/", {"code": wrong_code(secret)})
    assert "That code is not right" in refused.content.decode()
    assert User.objects.get(pk=world.clinician.user_id).has_totp  # no code, no switching off
    next_code = pyotp.TOTP(secret).at(time.time() + 30)  # the enrolment used the current one
    response = client.post("/account/two-factor/", {"code": next_code}, follow=True)

    assert "Two-factor sign-in is off." in response.content.decode()
    user = User.objects.get(pk=world.clinician.user_id)
    assert not user.has_totp
    assert user.totp_secret == ""
    actions = list(
        AuditEntry.objects.filter(action__startswith="totp.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["totp.enable", "totp.disable"]


def test_it_does_not_ask_a_clinician_without_two_factor_for_a_code(world, client):
    response = password_step(client, "clinician")

    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
