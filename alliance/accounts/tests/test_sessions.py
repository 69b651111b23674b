"""One statement reads the session, its user and their role; it never stands in for a check."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alliance.accounts.models import Membership, SignInSession, User
from alliance.accounts.sessions import CHOSEN_MEMBERSHIP

ACCOUNT_TABLES = ("accounts_signinsession", "accounts_user", "accounts_membership")


def _account_statements(client, path="/api/me"):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    touched = [
        q["sql"] for q in captured.captured_queries if any(t in q["sql"] for t in ACCOUNT_TABLES)
    ]
    return response, touched


def test_a_signed_in_request_reads_session_user_and_role_in_one_statement(world, as_member):
    client = as_member(world.clinician)

    response, touched = _account_statements(client)

    assert response.status_code == 200
    assert response.json()["username"] == "clinician"
    assert len(touched) == 1, touched
    assert all(t in touched[0] for t in ACCOUNT_TABLES)


def test_the_session_row_keeps_the_signed_in_users_id(world, as_member):
    client = as_member(world.clinician)

    row = SignInSession.objects.get(session_key=client.session.session_key)

    assert row.user_id == world.clinician.user_id


def test_a_row_whose_column_names_another_user_is_read_as_the_signed_data_says(world, as_member):
    # The column is a copy for the join; the signed data decides who is signed in.
    client = as_member(world.clinician)
    key = client.session.session_key
    SignInSession.objects.filter(session_key=key).update(user_id=world.colleague.user_id)

    response, touched = _account_statements(client)

    assert response.status_code == 200
    assert response.json()["username"] == "clinician"
    assert len(touched) == 3  # the joined statement, then the user and role the ordinary way


def test_a_deactivated_user_is_signed_out_although_the_statement_read_them(world, as_member):
    client = as_member(world.clinician)
    User.objects.filter(pk=world.clinician.user_id).update(is_active=False)

    assert client.get("/api/me").status_code == 401
    assert client.get("/")["Location"].startswith("/login/")


def test_a_deactivated_membership_ends_the_session(world, as_member):
    client = as_member(world.clinician)
    Membership.objects.filter(pk=world.clinician.pk).update(is_active=False)

    response = client.get("/", follow=True)

    assert response.redirect_chain[0][0] == "/login/"
    assert "not active in any clinic" in response.content.decode()


def test_a_changed_password_ends_the_session_read_by_the_statement(world, as_member):
    client = as_member(world.clinician)
    user = User.objects.get(pk=world.clinician.user_id)
    user.set_password("a-new-and-long-password")
    user.save()

    assert client.get("/api/me").status_code == 401


def test_an_expired_row_is_no_session(world, as_member):
    client = as_member(world.clinician)
    key = client.session.session_key
    SignInSession.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert client.get("/api/me").status_code == 401


def test_the_first_active_membership_is_the_role_as_actor_for_picks_it(world, as_member):
    # A second, newer membership in another clinic: the older one stays the actor's.
    Membership.objects.create(user=world.clinician.user, organisation=world.other_org, role="admin")
    client = as_member(world.clinician)

    response, touched = _account_statements(client, "/")

    assert response.status_code == 200
    assert len(touched) == 1
    assert response.context["actor"].membership.pk == world.clinician.pk
    assert response.context["actor"].membership.organisation.name == "Test Clinic"


def test_a_session_that_names_its_membership_gets_that_one(world, as_member):
    other = Membership.objects.create(
        user=world.clinician.user, organisation=world.other_org, role="clinician"
    )
    client = as_member(world.clinician)
    session = client.session
    session[CHOSEN_MEMBERSHIP] = other.pk
    session.save()

    response = client.get("/")

    assert response.status_code == 200
    assert response.context["actor"].membership.pk == other.pk


def test_signing_out_deletes_the_row(world, as_member):
    client = as_member(world.clinician)
    key = client.session.session_key

    client.post("/logout/")

    assert not SignInSession.objects.filter(session_key=key).exists()


def test_what_the_statement_read_serves_the_role_only_after_django_accepted_the_user(
    world, as_member
):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from alliance.accounts.sessions import AuthenticationMiddleware, SessionStore

    key = as_member(world.clinician).session.session_key
    request = RequestFactory().get("/")
    request.session = SessionStore(key)
    uid = world.clinician.user_id

    assert request.session.get("_auth_user_id") == str(uid)  # loaded: user and role were read
    assert request.session.signed_in(uid) is None  # not yet checked by Django

    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    assert request.user.pk == uid
    signed_in = request.session.signed_in(uid)
    assert signed_in is not None
    assert signed_in.membership is not None
    assert signed_in.membership.pk == world.clinician.pk


def test_a_sign_in_sweeps_away_expired_sessions_and_keeps_live_ones(world, as_member, client):
    from conftest import PASSWORD

    live = as_member(world.colleague).session.session_key
    stale = as_member(world.consultant).session.session_key
    SignInSession.objects.filter(session_key=stale).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )

    client.post("/login/", {"username": "clinician", "password": PASSWORD})

    keys = set(SignInSession.objects.values_list("session_key", flat=True))
    assert live in keys
    assert stale not in keys
    assert client.session.session_key in keys
