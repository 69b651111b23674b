"""API tokens: created on a page and shown once, revoked there, and a program's way in.

A token acts as its membership: the same permission matrix applies as for the session, and it
needs no CSRF token (the session still does).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from alliance.accounts.models import ApiToken, Membership
from alliance.accounts.tokens import MAX_ACTIVE_TOKENS, do_create_token
from alliance.alerts.models import Alert, Status
from alliance.audit.models import AuditEntry, Outcome
from alliance.measures.models import MeasureLink, Response
from alliance.opaque import token_hash
from conftest import World, signed_in
from tests.test_permission_matrix import fhir_phq9

pytestmark = pytest.mark.django_db


def token_for(world: World, membership: Membership, name: str = "EHR bridge") -> str:
    _, token = do_create_token(world.actor(membership), name)
    return token


def bearer(token: str) -> HttpClient:
    """A program: no cookies, CSRF enforced as for any client, the token in the header."""
    return HttpClient(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})


def post_json(http: HttpClient, url: str, body: object, **extra: Any) -> Any:
    return http.post(url, json.dumps(body), content_type="application/json", **extra)


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_a_new_token_once_and_stores_only_its_hash(world):
    http = signed_in(world.clinician)
    response = http.post(reverse("api_tokens"), {"name": "Reporting"})
    assert response.status_code == 200
    body = response.content.decode()
    [token] = re.findall(r"<code>([A-Za-z0-9_-]{43})</code>", body)
    row = ApiToken.objects.get(membership=world.clinician)
    assert row.token_hash == token_hash(token)
    assert row.prefix == token[:8]
    assert token not in str(ApiToken.objects.filter(pk=row.pk).values().get())
    again = http.get(reverse("api_tokens")).content.decode()
    assert token not in again
    assert "Reporting" in again
    assert f"{row.prefix}…" in again
    [entry] = AuditEntry.objects.filter(action="token.create")
    assert entry.object_id == str(row.pk)
    assert token not in json.dumps(entry.detail)


def test_a_token_needs_a_name(world):
    response = signed_in(world.clinician).post(reverse("api_tokens"), {"name": "  "})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()


def test_the_number_of_live_tokens_is_capped(world):
    for n in range(MAX_ACTIVE_TOKENS):
        token_for(world, world.clinician, f"program {n}")
    response = signed_in(world.clinician).post(reverse("api_tokens"), {"name": "one more"})
    assert "revoke one" in response.content.decode()
    assert ApiToken.objects.count() == MAX_ACTIVE_TOKENS


def test_the_page_lists_only_your_own_tokens(world):
    token_for(world, world.colleague, "Colleague's script")
    body = signed_in(world.clinician).get(reverse("api_tokens")).content.decode()
    assert "Colleague" not in body
    assert "No tokens yet" in body


def test_revoking_on_the_page_stops_the_token_and_is_audited(world):
    token = token_for(world, world.clinician)
    row = ApiToken.objects.get()
    response = signed_in(world.clinician).post(
        reverse("api_tokens"), {"action": "revoke", "token": str(row.pk)}
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert AuditEntry.objects.filter(action="token.revoke", object_id=str(row.pk)).count() == 1
    assert bearer(token).get("/api/me").status_code == 401


@pytest.mark.parametrize("raw", ["own colleague's", "missing", "junk", "9" * 30])
def test_nobody_revokes_a_token_that_is_not_theirs(world, raw):
    token = token_for(world, world.colleague)
    row = ApiToken.objects.get()
    value = {"own colleague's": str(row.pk), "missing": str(row.pk + 100)}.get(raw, raw)
    response = signed_in(world.clinician).post(
        reverse("api_tokens"), {"action": "revoke", "token": value}
    )
    assert response.status_code == 404
    assert ApiToken.objects.get().revoked_at is None
    assert bearer(token).get("/api/me").status_code == 200
    assert not AuditEntry.objects.filter(action="token.revoke").exists()


def test_an_admin_may_create_a_token_and_still_sees_no_client(world):
    http = signed_in(world.admin)
    body = http.post(reverse("api_tokens"), {"name": "User sync"}).content.decode()
    [token] = re.findall(r"<code>([A-Za-z0-9_-]{43})</code>", body)
    program = bearer(token)
    assert program.get("/api/me").json()["role"] == "admin"
    assert program.get("/api/clients").json() == {"count": 0, "items": []}
    assert program.get("/api/alerts").json() == {"count": 0, "items": []}
    response = program.get(f"/api/clients/{world.own_client.pk}")
    assert response.status_code == 404
    assert world.own_client.display_name not in response.content.decode()


# --- a program with a token -------------------------------------------------------------------


def test_a_clinicians_token_sees_their_client_and_not_another_clinics(world):
    program = bearer(token_for(world, world.clinician))
    mine = program.get(f"/api/clients/{world.own_client.pk}")
    assert mine.status_code == 200
    assert mine.json()["display_name"] == world.own_client.display_name
    theirs = program.get(f"/api/clients/{world.other_org_client.pk}")
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": "Not found"}
    listed = program.get("/api/clients").content.decode()
    for client in (world.other_team_client, world.other_org_client):
        for canary in world.canaries_of(client):
            assert canary not in listed
    # The reads are audited as the token's user, like any other.
    denied = AuditEntry.objects.get(action="client.view", outcome=Outcome.DENIED)
    assert denied.actor_id == world.clinician.user_id


def test_a_token_acts_in_its_own_membership(world):
    outsider = bearer(token_for(world, world.outsider))
    assert outsider.get(f"/api/clients/{world.other_org_client.pk}").status_code == 200
    response = post_json(
        outsider, "/api/fhir/QuestionnaireResponse", fhir_phq9(world.own_client.pk)
    )
    assert response.status_code == 404
    assert not Response.objects.exists()


def test_a_token_needs_no_csrf_for_changes(world):
    program = bearer(token_for(world, world.clinician))
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    assert post_json(program, url, {"timing": "before"}).status_code == 201
    response = post_json(program, f"/api/alerts/{world.own_alert.pk}/acknowledge", {"version": 1})
    assert response.status_code == 200
    assert Alert.objects.get(pk=world.own_alert.pk).status == Status.ACKNOWLEDGED


def test_a_session_still_needs_csrf_for_changes(world):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(world.clinician.user)
    session = http.session
    session["signed_in_at"] = session["seen_at"] = timezone.now().timestamp()
    session.save()
    response = post_json(http, f"/api/alerts/{world.own_alert.pk}/acknowledge", {"version": 1})
    assert response.status_code == 403
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    assert post_json(http, url, {"timing": "before"}).status_code == 403
    assert Alert.objects.get(pk=world.own_alert.pk).status == Status.OPEN
    assert not MeasureLink.objects.exists()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "A" * 43,  # well formed, unknown
        "Bearer short",
        "Bearer ",
        "Bearer " + "x" * 5000,
        "Bearer not a token at all",
    ],
)
def test_a_wrong_token_is_a_401_in_json(world, header):
    response = HttpClient(headers={"Authorization": header}).get("/api/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_bad_token_does_not_fall_back_to_the_session(world):
    http = signed_in(world.clinician)
    assert http.get("/api/me").status_code == 200
    response = http.get("/api/me", headers={"Authorization": "Bearer " + "A" * 43})
    assert response.status_code == 401


@pytest.mark.parametrize("what", ["token", "membership", "user"])
def test_a_revoked_token_or_a_deactivated_owner_is_refused(world, what):
    token = token_for(world, world.clinician)
    assert bearer(token).get("/api/me").status_code == 200
    if what == "token":
        ApiToken.objects.update(revoked_at=timezone.now())
    elif what == "membership":
        Membership.objects.filter(pk=world.clinician.pk).update(is_active=False)
    else:
        type(world.clinician.user).objects.filter(pk=world.clinician.user_id).update(
            is_active=False
        )
    response = bearer(token).get(f"/api/clients/{world.own_client.pk}")
    assert response.status_code == 401
    assert world.own_client.display_name not in response.content.decode()


def test_last_used_is_written_at_most_once_a_minute(world):
    token = token_for(world, world.clinician)
    assert ApiToken.objects.get().last_used_at is None
    program = bearer(token)
    program.get("/api/me")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    program.get("/api/me")
    assert ApiToken.objects.get().last_used_at == first
    earlier = timezone.now() - timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=earlier)
    program.get("/api/me")
    latest = ApiToken.objects.get().last_used_at
    assert latest is not None
    assert latest > earlier
