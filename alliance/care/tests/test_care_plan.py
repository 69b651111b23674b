"""The needs profile, the shared care plan under the client's consent, relationships,
handoffs with read receipts, and consultant case review."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alliance.audit.models import AuditEntry
from alliance.care import actions
from alliance.care.access import care_items
from alliance.care.actions import ItemIn, ShareIn
from alliance.care.models import CareItem, CaseReview, HandoffRead, NeedShare, NeedsProfile
from alliance.clients.errors import ActionError, NotFound
from alliance.clients.models import CareRole, CareTeamMember
from conftest import signed_in

pytestmark = pytest.mark.django_db


def _join(world, membership, discipline=""):
    CareTeamMember.objects.create(
        organisation=world.org,
        client=world.own_client,
        membership=membership,
        discipline=discipline or membership.discipline,
        care_role=CareRole.MEMBER,
    )


def _profile(world, **kwargs):
    shares = kwargs.pop(
        "shares",
        [
            ShareIn("psychology", 50, world.clinician.pk, "Low mood and worry"),
            ShareIn("psychiatry", 20, world.consultant.pk, "Medication review"),
            ShareIn("social_work", 30, None, "Housing"),
        ],
    )
    return actions.do_save_needs(
        world.actor(world.clinician),
        world.own_client.pk,
        base_version=kwargs.pop("base_version", 0),
        shares=shares,
        reason=kwargs.pop("reason", ""),
        agreed_with_client=True,
    )


def test_the_needs_profile_is_versioned_with_who_when_and_why(world):
    first = _profile(world)
    assert (first.version, first.reason) == (1, "First profile")
    second = _profile(
        world,
        base_version=1,
        reason="Housing sorted by the council",
        shares=[
            ShareIn("psychology", 70, world.clinician.pk),
            ShareIn("psychiatry", 30, world.consultant.pk),
        ],
    )
    assert second.version == 2
    assert second.changed_by == world.clinician
    assert NeedsProfile.objects.filter(episode=world.own_episode).count() == 2  # nothing lost
    assert actions.current_needs(world.own_episode) == second
    entry = AuditEntry.objects.filter(action="needs.update", object_id=str(second.pk)).get()
    assert entry.detail == {"version": 2, "shares": 2, "unmet_percent": 0}


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        (
            [("psychology", 50, None), ("psychiatry", 40, None)],
            "add up to 100 %; these add up to 90",
        ),
        ([("psychology", 100, "colleague")], "must be on this client's care team"),
        ([("psychiatry", 100, "clinician")], "does not work in Psychiatry"),
        ([("astrology", 100, None)], "one of the clinic's disciplines"),
        ([("psychology", 50, None), ("psychology", 50, None)], "Each discipline can appear once"),
        ([], "at least one discipline"),
    ],
)
def test_bad_shares_get_a_clear_answer_and_change_nothing(world, shares, message):
    _profile(world)
    owners = {"colleague": world.colleague.pk, "clinician": world.clinician.pk, None: None}
    with pytest.raises(ActionError, match=message):
        _profile(
            world,
            base_version=1,
            reason="Try",
            shares=[ShareIn(d, p, owners[o]) for d, p, o in shares],
        )
    assert NeedsProfile.objects.filter(episode=world.own_episode).count() == 1
    assert NeedShare.objects.count() == 3


def test_a_second_writer_on_the_same_version_gets_a_conflict(world):
    _profile(world)
    _profile(world, base_version=1, reason="First writer")
    with pytest.raises(actions.NeedsConflict) as raised:
        _profile(world, base_version=1, reason="Second writer")
    assert raised.value.current is not None
    assert raised.value.current.reason == "First writer"
    assert NeedsProfile.objects.filter(episode=world.own_episode).count() == 2


def test_the_page_shows_my_share_and_the_unmet_share(world):
    _profile(world)
    page = signed_in(world.consultant).get(reverse("care_plan", args=[world.own_client.pk]))
    body = page.content.decode()
    assert "Your share: Psychiatry, 20 %" in body
    assert "30 % of the client's needs has no owner" in body
    assert "Social work (30 %)" in body


def test_the_needs_form_refuses_shares_not_summing_to_100(world):
    http = signed_in(world.clinician)
    data = {
        "base_version": "0",
        "share-0-discipline": "psychology",
        "share-0-percent": "60",
        "share-0-owner": str(world.clinician.pk),
        "share-1-discipline": "nursing",
        "share-1-percent": "30",
    }
    page = http.post(reverse("needs_save", args=[world.own_client.pk]), data)
    assert page.status_code == 400
    assert "these add up to 90 %" in page.content.decode()
    assert not NeedsProfile.objects.exists()
    data["share-1-percent"] = "40"
    assert http.post(reverse("needs_save", args=[world.own_client.pk]), data).status_code == 302
    assert NeedShare.objects.filter(discipline="nursing", owner__isnull=True).get().percent == 40


def _item(world, actor_membership, **fields):
    values = {"discipline": "psychology", "need": "Low mood", "goal": "Enjoy mornings"} | fields
    return actions.do_add_item(world.actor(actor_membership), world.own_client.pk, ItemIn(**values))


def test_sharing_follows_consent_and_withdrawal_acts_on_the_next_request(world):
    _join(world, world.colleague)  # social work joins the client's care team
    item = _item(world, world.clinician, action="Behavioural activation")
    colleague = world.actor(world.colleague)
    http = signed_in(world.colleague)
    url = reverse("care_plan", args=[world.own_client.pk])

    body = http.get(url).content.decode()
    assert "Behavioural activation" not in body
    assert "1 item of other disciplines is not shared with you" in body
    with pytest.raises(NotFound):
        actions.do_edit_item(colleague, item.pk, ItemIn("psychology", "x"), version=1)

    consent = actions.do_add_consent(
        world.actor(world.clinician), world.own_client.pk, discipline="social_work"
    )
    assert "Behavioural activation" in http.get(url).content.decode()
    api = http.get(f"/api/clients/{world.own_client.pk}/care-items").json()
    assert [i["action"] for i in api["items"]] == ["Behavioural activation"]

    actions.do_withdraw_consent(world.actor(world.clinician), world.own_client.pk, consent.pk)
    assert "Behavioural activation" not in http.get(url).content.decode()
    api = http.get(f"/api/clients/{world.own_client.pk}/care-items").json()
    assert api == {"items": [], "withheld": 1}


def test_consent_to_one_provider_shares_with_them_alone(world):
    _join(world, world.colleague)
    _item(world, world.clinician, need="Sleep")
    actions.do_add_consent(
        world.actor(world.clinician), world.own_client.pk, provider_id=world.colleague.pk
    )
    seen, withheld = care_items(world.actor(world.colleague), world.own_client)
    assert [i.need for i in seen] == ["Sleep"]
    assert withheld == 0
    seen, withheld = care_items(world.actor(world.consultant), world.own_client)
    assert list(seen) == []
    assert withheld == 1


def test_an_item_owner_must_be_on_the_care_team(world):
    with pytest.raises(ActionError, match="care team"):
        _item(world, world.clinician, owner_id=world.colleague.pk)
    assert not CareItem.objects.exists()


def test_a_plan_item_of_another_organisations_client_is_not_found(world):
    with pytest.raises(NotFound):
        actions.do_add_item(
            world.actor(world.clinician), world.other_org_client.pk, ItemIn("psychology", "x")
        )
    response = signed_in(world.clinician).post(
        reverse("care_item_add", args=[world.other_org_client.pk]),
        {"discipline": "psychology", "need": "x", "status": "planned"},
    )
    assert response.status_code == 404
    assert not CareItem.objects.exists()


def test_two_editors_of_one_item_see_a_conflict_with_both_versions(world):
    item = _item(world, world.clinician, action="Weekly walk")
    actions.do_add_consent(
        world.actor(world.clinician), world.own_client.pk, discipline="psychiatry"
    )
    url = reverse("care_item_edit", args=[world.own_client.pk, item.pk])
    prefix = f"i{item.pk}"

    def form(action):
        return {
            f"{prefix}-discipline": "psychology",
            f"{prefix}-need": "Low mood",
            f"{prefix}-goal": "Enjoy mornings",
            f"{prefix}-action": action,
            f"{prefix}-status": "under_way",
            f"{prefix}-version": "1",
        }

    first = signed_in(world.clinician).post(url, form("Walk with a friend twice a week"))
    assert first.status_code == 302
    second = signed_in(world.consultant).post(url, form("Daily walk alone"))
    assert second.status_code == 409
    body = second.content.decode()
    assert "Walk with a friend twice a week" in body
    assert "Daily walk alone" in body
    assert "Nothing was overwritten" in body
    item.refresh_from_db()
    assert (item.action, item.version) == ("Walk with a friend twice a week", 2)


def test_the_api_answers_a_stale_edit_with_409_and_the_current_item(world):
    item = _item(world, world.clinician)
    http = signed_in(world.clinician)
    body = {"discipline": "psychology", "need": "Low mood", "status": "done", "version": 1}
    path = f"/api/care-items/{item.pk}"
    assert http.post(path, body, content_type="application/json").status_code == 200
    again = http.post(path, body | {"status": "stopped"}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["current"]["status"] == "done"
    assert again.json()["current"]["version"] == 2


def test_a_handoff_has_a_read_receipt_from_its_recipient_only(world):
    _join(world, world.colleague)
    handoff = actions.do_add_handoff(
        world.actor(world.clinician),
        world.own_client.pk,
        recipient_id=world.colleague.pk,
        situation="Rent arrears letter arrived",
        tried="Budgeting sheet",
        ask="Could you see her about housing this week?",
    )
    url = reverse("handoff", args=[world.own_client.pk, handoff.pk])
    assert signed_in(world.clinician).get(url).status_code == 200  # the sender: no receipt
    assert not HandoffRead.objects.exists()
    assert signed_in(world.colleague).get(url).status_code == 200
    assert signed_in(world.colleague).get(url).status_code == 200
    assert list(HandoffRead.objects.values_list("reader", flat=True)) == [world.colleague.pk]
    # Addressed to one person: the rest of the care team does not see it.
    assert signed_in(world.consultant).get(url).status_code == 404
    with pytest.raises(ActionError, match="care team"):
        actions.do_add_handoff(
            world.actor(world.clinician),
            world.own_client.pk,
            recipient_id=world.outsider.pk,
            situation="x",
            tried="",
            ask="y",
        )


def test_relationships_appear_on_the_plan_and_in_handoffs(world):
    actions.do_add_relationship(
        world.actor(world.clinician),
        world.own_client.pk,
        name="Dr Ortiz",
        kind="provider",
        role="Family doctor for twenty years",
    )
    body = signed_in(world.clinician).get(reverse("care_plan", args=[world.own_client.pk]))
    assert "Dr Ortiz" in body.content.decode()
    assert "Keep in view: Dr Ortiz (Family doctor for twenty years)" in body.content.decode()


def test_case_review_from_flag_to_recommendation_to_acknowledgement(world):
    clinician = world.actor(world.clinician)
    review = actions.do_flag_review(
        clinician, world.own_client.pk, question="No change after 10 weeks: add medication?"
    )
    with pytest.raises(ActionError, match="already flagged"):
        actions.do_flag_review(clinician, world.own_client.pk, question="Again")
    listed = signed_in(world.consultant).get(reverse("reviews")).content.decode()
    assert world.own_client.display_name in listed
    with pytest.raises(ActionError, match="Only a consultant"):
        actions.do_recommend(clinician, review.pk, recommendation="x", version=1)
    with pytest.raises(ActionError, match="no recommendation"):
        actions.do_acknowledge_review(clinician, review.pk, version=1)
    actions.do_recommend(
        world.actor(world.consultant),
        review.pk,
        recommendation="Start sertraline 50 mg.\nReview in 4 weeks.",
        version=1,
    )
    plan = signed_in(world.clinician).get(reverse("care_plan", args=[world.own_client.pk]))
    assert "Start sertraline 50 mg.<br>Review in 4 weeks." in plan.content.decode()
    actions.do_acknowledge_review(clinician, review.pk, version=2, client_id=world.own_client.pk)
    review.refresh_from_db()
    assert review.status == "closed"
    assert review.acknowledged_by == world.clinician
    after = signed_in(world.consultant).get(reverse("reviews")).content.decode()
    assert "No client is flagged for review." in after


def test_a_consultant_sees_flagged_clients_of_their_teams_only(world):
    review = actions.do_flag_review(
        world.actor(world.colleague), world.other_team_client.pk, question="Risk plan?"
    )
    # The consultant is in the North team; this client is in the South team.
    assert signed_in(world.consultant).get(reverse("review", args=[review.pk])).status_code == 404
    world.consultant.teams.add(world.other_team)
    page = signed_in(world.consultant).get(reverse("review", args=[review.pk]))
    assert page.status_code == 200
    assert "Risk plan?" in page.content.decode()
    entry = AuditEntry.objects.filter(action="review.view", outcome="ok").last()
    assert entry is not None
    assert entry.client_id == world.other_team_client.pk
    assert CaseReview.objects.count() == 1


def test_a_clinic_adds_its_own_discipline_and_shares_can_use_it(world):
    http = signed_in(world.admin)
    page = http.post(reverse("manage_disciplines"), {"label": "Occupational therapy"})
    assert page.status_code == 302
    again = http.post(reverse("manage_disciplines"), {"label": "occupational therapy"})
    assert again.status_code == 400
    assert "already has that discipline" in again.content.decode()
    assert http.post(reverse("manage_disciplines"), {"label": "Psychiatry"}).status_code == 400
    profile = _profile(
        world,
        shares=[
            ShareIn("psychology", 80, world.clinician.pk),
            ShareIn("occupational_therapy", 20),
        ],
    )
    assert {s.discipline for s in profile.shares.all()} == {"psychology", "occupational_therapy"}
    # Another clinic does not have it.
    with pytest.raises(ActionError, match="clinic's disciplines"):
        actions.do_add_item(
            world.actor(world.outsider),
            world.other_org_client.pk,
            ItemIn("occupational_therapy", "Getting back to work"),
        )
    assert signed_in(world.clinician).get(reverse("manage_disciplines")).status_code == 403
