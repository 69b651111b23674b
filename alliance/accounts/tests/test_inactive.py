"""A member of staff whose role is deactivated can no longer sign in, and is signed out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alliance.accounts.middleware import INACTIVE_MESSAGE
from alliance.accounts.models import Membership
from alliance.audit.models import AuditEntry
from conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


def test_a_deactivated_member_cannot_sign_in(client, world):
    Membership.objects.filter(pk=world.clinician.pk).update(is_active=False)
    response = client.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert response.status_code == 200
    assert INACTIVE_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.latest("pk").action == "login.refused"


def test_a_session_ends_on_the_next_request_after_deactivation(world):
    http = signed_in(world.clinician)
    assert http.get(reverse("home")).status_code == 200
    Membership.objects.filter(pk=world.clinician.pk).update(is_active=False)
    response = http.get(reverse("client", args=[world.own_client.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in http.session
    assert AuditEntry.objects.latest("pk").action == "logout"
