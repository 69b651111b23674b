"""The clinic admin's pages for users, roles and teams: changes, errors, who may see them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alliance.accounts import actions
from alliance.accounts.models import Discipline, Membership, Role, Team, User
from alliance.audit.models import AuditEntry
from conftest import PASSWORD, signed_in

NEW_PASSWORD = "violet-tangerine-harbour"
ADMIN_PAGES = ["/manage/users/", "/manage/users/new/", "/manage/teams/"]


def new_user_form(**overrides):
    data = {
        "username": "newbie",
        "full_name": "Nova Newcomer",
        "email": "nova@example.org",
        "role": Role.CLINICIAN,
        "discipline": Discipline.NURSING,
        "password": NEW_PASSWORD,
    }
    return {**data, **overrides}


def edit_form(role, discipline="", teams=(), active=True):
    data = {"role": role, "discipline": discipline, "teams": [t.pk for t in teams]}
    if active:
        data["is_active"] = "on"
    return data


@pytest.fixture
def admin_client(world):
    return signed_in(world.admin)


# --- users ------------------------------------------------------------------------------------


def test_it_lets_the_admin_create_a_user_who_can_then_sign_in(world, admin_client, client):
    response = admin_client.post("/manage/users/new/", new_user_form(), follow=True)

    body = response.content.decode()
    assert response.redirect_chain[-1][0] == "/manage/users/"
    assert "Nova Newcomer can now sign in." in body
    assert "newbie" in body
    membership = Membership.objects.get(user__username="newbie")
    assert membership.organisation_id == world.org.pk
    assert membership.role == Role.CLINICIAN
    assert membership.discipline == Discipline.NURSING
    assert (membership.user.first_name, membership.user.last_name) == ("Nova", "Newcomer")
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.actor_id == world.admin.user_id
    assert entry.organisation_id == world.org.pk
    assert entry.object_id == str(membership.pk)
    assert entry.detail["role"] == Role.CLINICIAN
    assert NEW_PASSWORD not in str(entry.detail)
    signed = client.post("/login/", {"username": "newbie", "password": NEW_PASSWORD})
    assert signed["Location"] == "/"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "short"}, "This password is too short."),
        ({"password": "password123456"}, "This password is too common."),
        ({"username": "Clinician"}, "That username is taken."),
        ({"discipline": ""}, "A clinician needs a discipline."),
        ({"username": "no spaces allowed"}, "Enter a valid value."),
    ],
)
def test_it_shows_why_a_new_user_was_refused(world, admin_client, overrides, message):
    users_before = User.objects.count()

    response = admin_client.post("/manage/users/new/", new_user_form(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == users_before
    assert not AuditEntry.objects.filter(action="user.create").exists()


def test_it_lets_the_admin_change_a_role_and_audits_before_and_after(world, admin_client):
    colleague = world.colleague

    response = admin_client.post(
        f"/manage/users/{colleague.pk}/", edit_form(Role.COORDINATOR, teams=[world.team])
    )

    assert response.status_code == 302
    colleague.refresh_from_db()
    assert colleague.role == Role.COORDINATOR
    assert colleague.discipline == ""
    entry = AuditEntry.objects.get(action="user.role_change")
    assert entry.actor_id == world.admin.user_id
    assert entry.object_id == str(colleague.pk)
    assert entry.detail == {
        "before": {"role": Role.CLINICIAN, "discipline": Discipline.SOCIAL_WORK, "active": True},
        "after": {"role": Role.COORDINATOR, "discipline": "", "active": True},
    }
    assert not AuditEntry.objects.filter(action="user.team_change").exists()


def test_it_lets_the_admin_set_teams_and_audits_the_change(world, admin_client):
    colleague = world.colleague
    form = edit_form(Role.CLINICIAN, Discipline.SOCIAL_WORK, teams=[world.team, world.other_team])

    admin_client.post(f"/manage/users/{colleague.pk}/", form)

    assert set(colleague.teams.all()) == {world.team, world.other_team}
    entry = AuditEntry.objects.get(action="user.team_change")
    assert entry.object_id == str(colleague.pk)
    assert entry.detail == {
        "before": [world.team.pk],
        "after": sorted([world.team.pk, world.other_team.pk]),
    }
    assert not AuditEntry.objects.filter(action="user.role_change").exists()


def test_it_writes_no_audit_entry_when_a_save_changes_nothing(world, admin_client):
    form = edit_form(Role.CLINICIAN, Discipline.SOCIAL_WORK, teams=[world.team])

    response = admin_client.post(f"/manage/users/{world.colleague.pk}/", form)

    assert response.status_code == 302
    assert not AuditEntry.objects.filter(action__startswith="user.").exists()


def test_it_lets_the_admin_deactivate_a_member_who_then_cannot_act(world, admin_client):
    form = edit_form(Role.CLINICIAN, Discipline.SOCIAL_WORK, teams=[world.team], active=False)

    admin_client.post(f"/manage/users/{world.colleague.pk}/", form)

    world.colleague.refresh_from_db()
    assert not world.colleague.is_active
    assert AuditEntry.objects.get(action="user.role_change").detail["after"]["active"] is False
    response = signed_in(world.colleague).get("/")
    assert response.status_code == 302  # signed out: their role is no longer active
    assert response["Location"] == "/login/"


def test_it_refuses_a_team_of_another_organisation(world, admin_client):
    far_team = Team.objects.create(organisation=world.other_org, name="Far team")
    form = edit_form(Role.CLINICIAN, Discipline.SOCIAL_WORK, teams=[world.team, far_team])

    response = admin_client.post(f"/manage/users/{world.colleague.pk}/", form)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert "Far team" not in response.content.decode()
    assert list(world.colleague.teams.all()) == [world.team]


def test_it_changes_role_and_teams_together_or_not_at_all(world, admin_client, monkeypatch):
    def refuse(*args, **kwargs):
        raise actions.AccountError("Choose teams of your own organisation.")

    monkeypatch.setattr(actions, "do_set_teams", refuse)

    response = admin_client.post(
        f"/manage/users/{world.colleague.pk}/", edit_form(Role.COORDINATOR, teams=[world.team])
    )

    assert "Choose teams of your own organisation." in response.content.decode()
    world.colleague.refresh_from_db()
    assert world.colleague.role == Role.CLINICIAN
    assert not AuditEntry.objects.filter(action="user.role_change").exists()


def test_it_shows_a_clinician_without_discipline_as_a_form_error(world, admin_client):
    response = admin_client.post(
        f"/manage/users/{world.coordinator.pk}/", edit_form(Role.CLINICIAN)
    )

    assert "A clinician needs a discipline." in response.content.decode()
    world.coordinator.refresh_from_db()
    assert world.coordinator.role == Role.COORDINATOR


@pytest.mark.parametrize(
    "form",
    [
        edit_form(Role.CLINICIAN, Discipline.PSYCHOLOGY),
        edit_form(Role.ADMIN, active=False),
    ],
    ids=["demote", "deactivate"],
)
def test_it_does_not_let_an_admin_remove_their_own_admin_role(world, admin_client, form):
    response = admin_client.post(f"/manage/users/{world.admin.pk}/", form)

    assert "You cannot remove your own admin role" in response.content.decode()
    world.admin.refresh_from_db()
    assert world.admin.role == Role.ADMIN
    assert world.admin.is_active
    assert not AuditEntry.objects.filter(action="user.role_change").exists()


def test_it_hides_a_membership_of_another_organisation(world, admin_client):
    outsider = world.outsider
    page = admin_client.get(f"/manage/users/{outsider.pk}/")
    change = admin_client.post(f"/manage/users/{outsider.pk}/", edit_form(Role.ADMIN))
    missing = admin_client.get("/manage/users/999999/")

    assert page.status_code == change.status_code == missing.status_code == 404
    assert "outsider" not in page.content.decode()
    outsider.refresh_from_db()
    assert outsider.role == Role.CLINICIAN
    assert not AuditEntry.objects.filter(action="user.role_change").exists()


def test_it_refuses_changes_to_another_organisation_in_the_actions_too(world):
    with pytest.raises(actions.AccountError):
        actions.do_change_role(
            world.actor(world.admin),
            world.outsider.pk,
            role=Role.ADMIN,
            discipline="",
            is_active=True,
        )
    with pytest.raises(actions.AccountError):
        actions.do_set_teams(world.actor(world.admin), world.outsider.pk, [])


def test_it_lists_only_the_members_of_the_admins_organisation(world, admin_client):
    body = admin_client.get("/manage/users/").content.decode()

    for member in (world.clinician, world.colleague, world.coordinator, world.consultant):
        assert f"/manage/users/{member.pk}/" in body
    assert "outsider" not in body
    assert f"/manage/users/{world.outsider.pk}/" not in body


def test_it_lists_users_with_a_fixed_number_of_queries(world, admin_client):
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/manage/users/")
    for n in range(5):
        user = User.objects.create_user(username=f"extra{n}", password=PASSWORD)
        extra = Membership.objects.create(
            user=user, organisation=world.org, role=Role.CLINICIAN, discipline=Discipline.NURSING
        )
        extra.teams.set([world.team, world.other_team])

    with CaptureQueriesContext(connection) as many:
        response = admin_client.get("/manage/users/")

    assert "extra4" in response.content.decode()
    assert len(many) == len(few)


# --- teams ------------------------------------------------------------------------------------


def test_it_lets_the_admin_create_a_team_and_audits_it(world, admin_client):
    response = admin_client.post("/manage/teams/", {"name": "  East team "}, follow=True)

    assert "Team created." in response.content.decode()
    assert "East team" in response.content.decode()
    team = Team.objects.get(name="East team")
    assert team.organisation_id == world.org.pk
    entry = AuditEntry.objects.get(action="team.create")
    assert entry.actor_id == world.admin.user_id
    assert entry.object_type == "team"
    assert entry.object_id == str(team.pk)


def test_it_refuses_a_duplicate_team_name_whatever_the_case(world, admin_client):
    response = admin_client.post("/manage/teams/", {"name": "north TEAM"})

    assert "A team with that name already exists." in response.content.decode()
    assert Team.objects.filter(organisation=world.org).count() == 2
    assert not AuditEntry.objects.filter(action="team.create").exists()


def test_it_allows_a_team_name_used_by_another_organisation(world, admin_client):
    Team.objects.create(organisation=world.other_org, name="West team")

    admin_client.post("/manage/teams/", {"name": "West team"})

    assert Team.objects.filter(organisation=world.org, name="West team").exists()


def test_it_lists_only_the_teams_of_the_admins_organisation(world, admin_client):
    Team.objects.create(organisation=world.other_org, name="Far team")

    body = admin_client.get("/manage/teams/").content.decode()

    assert "North team" in body
    assert "Clinician Tester" in body
    assert "Far team" not in body


# --- who may see these pages ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "coordinator", "consultant"])
def test_it_refuses_the_admin_pages_to_clinical_staff(world, role):
    client = signed_in(getattr(world, role))
    pages = [*ADMIN_PAGES, f"/manage/users/{world.colleague.pk}/"]

    for page in pages:
        assert client.get(page).status_code == 403, page
    assert client.post("/manage/teams/", {"name": "Sneaky team"}).status_code == 403
    assert client.post("/manage/users/new/", new_user_form()).status_code == 403
    assert not Team.objects.filter(name="Sneaky team").exists()
    assert not User.objects.filter(username="newbie").exists()


def test_it_refuses_the_admin_actions_to_clinical_staff(world):
    with pytest.raises(actions.AccountError):
        actions.do_create_team(world.actor(world.clinician), "Sneaky team")


def test_it_sends_an_anonymous_visitor_to_sign_in(world, client):
    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_it_never_shows_client_data_on_the_admin_pages(world, admin_client):
    pages = [*ADMIN_PAGES, f"/manage/users/{world.clinician.pk}/"]
    canaries = [
        *world.canaries_of(world.own_client),
        *world.canaries_of(world.other_team_client),
        *world.canaries_of(world.other_org_client),
    ]

    for page in pages:
        body = admin_client.get(page).content.decode()
        assert "Clinician Tester" in body or page == "/manage/users/new/"
        for canary in canaries:
            assert canary not in body, (page, canary)


def test_it_sends_the_admin_home_to_the_users_page(world, admin_client):
    response = admin_client.get("/")

    assert response["Location"] == "/manage/users/"
