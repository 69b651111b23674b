"""The first admin of a clinic, as `alliance createadmin` makes them."""

from __future__ import annotations

import pytest

from alliance.accounts.actions import AccountError, create_organisation_with_admin
from alliance.accounts.models import Membership, Organisation, Role, User
from alliance.audit.models import AuditEntry

STRONG = "violet-tangerine-harbour"


def test_it_creates_the_clinic_and_its_admin_and_audits_it(db):
    membership = create_organisation_with_admin(
        name="Riverside", slug="riverside", username="boss", password=STRONG
    )

    assert membership.role == Role.ADMIN
    assert membership.organisation.name == "Riverside"
    assert membership.user.check_password(STRONG)
    assert not membership.user.has_totp  # they enrol at their first sign-in
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.organisation_id == membership.organisation_id
    assert entry.detail["by"] == "command line"


def test_it_adds_an_admin_to_an_existing_clinic(db):
    first = create_organisation_with_admin(
        name="Riverside", slug="riverside", username="boss", password=STRONG
    )

    second = create_organisation_with_admin(
        name="Ignored", slug="riverside", username="deputy", password=STRONG
    )

    assert second.organisation_id == first.organisation_id
    assert Organisation.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"password": "short"}, "too short"),
        ({"slug": "Bad slug!"}, "slug"),
    ],
)
def test_it_refuses_a_bad_admin_and_creates_nothing(db, kwargs, message):
    args = {"name": "Weak", "slug": "weak", "username": "weakling", "password": STRONG, **kwargs}

    with pytest.raises(AccountError, match=message):
        create_organisation_with_admin(**args)

    assert not User.objects.exists()
    assert not Organisation.objects.exists()
    assert not AuditEntry.objects.exists()


def test_it_refuses_a_taken_username_and_leaves_no_new_clinic(world):
    with pytest.raises(AccountError, match="taken"):
        create_organisation_with_admin(
            name="New", slug="new-clinic", username="OrgAdmin", password=STRONG
        )

    assert not Organisation.objects.filter(slug="new-clinic").exists()
    assert Membership.objects.filter(user__username="orgadmin").count() == 1
