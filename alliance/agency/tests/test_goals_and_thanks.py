"""Goals written and revised with the client, moments only the right people see, and a
gratitude collection that belongs to the clinician's account, not the client record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from alliance.agency import actions, readiness
from alliance.agency.access import visible_moments
from alliance.agency.models import Goal, GoalChange, GoalRating, KeptThanks, Moment, Thanks
from alliance.alerts import rules
from alliance.alerts.models import Alert
from alliance.clients.errors import ActionError, NotFound, StaleWrite
from alliance.clients.models import CareTeamMember
from alliance.measurement import load_instrument
from conftest import signed_in

pytestmark = pytest.mark.django_db


def test_a_goal_is_written_reworded_and_retired_with_its_history(world):
    actor = world.actor(world.clinician)
    goal = actions.do_add_goal(actor, world.own_client.pk, text="  Go to   the shop alone ")
    assert goal.text == "Go to the shop alone"
    actions.do_revise_goal(
        actor, goal.pk, text="Go to the big shop alone", reason="Easier now", version=1
    )
    with pytest.raises(StaleWrite):
        actions.do_revise_goal(actor, goal.pk, text="Something else", reason="", version=1)
    actions.do_retire_goal(actor, goal.pk, reason="Reached it", version=2)
    goal.refresh_from_db()
    assert (goal.status, goal.retired_reason) == ("retired", "Reached it")
    assert list(GoalChange.objects.filter(goal=goal).values_list("kind", "text")) == [
        ("created", "Go to the shop alone"),
        ("revised", "Go to the big shop alone"),
        ("retired", "Go to the big shop alone"),
    ]
    with pytest.raises(ActionError, match="no longer rated"):
        actions.do_rate_goal(actor, goal.pk, rating=5)


@pytest.mark.parametrize("rating", [-1, 11, True, "5"])
def test_a_rating_out_of_range_is_refused_and_nothing_is_stored(world, rating):
    actor = world.actor(world.clinician)
    goal = actions.do_add_goal(actor, world.own_client.pk, text="Sleep better")
    with pytest.raises(ActionError, match="0 to 10"):
        actions.do_rate_goal(actor, goal.pk, rating=rating)
    assert not GoalRating.objects.exists()


def test_a_goal_for_someone_elses_client_is_not_found_and_changes_nothing(world):
    with pytest.raises(NotFound):
        actions.do_add_goal(world.actor(world.outsider), world.own_client.pk, text="Mine now")
    goal = actions.do_add_goal(world.actor(world.clinician), world.own_client.pk, text="Rest")
    with pytest.raises(NotFound):
        actions.do_rate_goal(world.actor(world.colleague), goal.pk, rating=3)
    with pytest.raises(NotFound):  # the goal exists, but not for the client the URL names
        actions.do_rate_goal(
            world.actor(world.clinician), goal.pk, rating=3, client_id=world.other_team_client.pk
        )
    assert Goal.objects.count() == 1
    assert not GoalRating.objects.exists()


def test_the_goals_page_refuses_a_bad_rating_with_a_message(world):
    http = signed_in(world.clinician)
    goal = actions.do_add_goal(world.actor(world.clinician), world.own_client.pk, text="Rest")
    response = http.post(
        reverse("goal_rate", args=[world.own_client.pk, goal.pk]), {"rating": "12"}, follow=True
    )
    assert "A rating is 0 to 10." in response.content.decode()
    assert not GoalRating.objects.exists()


def test_at_most_five_active_goals(world):
    actor = world.actor(world.clinician)
    for n in range(5):
        actions.do_add_goal(actor, world.own_client.pk, text=f"Goal {n}")
    with pytest.raises(ActionError, match="Up to 5 goals"):
        actions.do_add_goal(actor, world.own_client.pk, text="One too many")


def _moment(world, visibility: str) -> Moment:
    return Moment.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        kind="victory",
        text="Answered the phone to my mum",
        happened_on=timezone.localdate(),
        written_by="client",
        visibility=visibility,
        therapist=world.clinician,
        created_at=timezone.now(),
    )


def test_a_note_kept_for_the_therapist_is_hidden_from_the_rest_of_the_care_team(world):
    CareTeamMember.objects.create(
        organisation=world.org, client=world.own_client, membership=world.colleague
    )
    private = _moment(world, "therapist")
    shared = _moment(world, "team")
    assert set(visible_moments(world.actor(world.clinician))) == {private, shared}
    assert set(visible_moments(world.actor(world.colleague))) == {shared}
    page = signed_in(world.colleague).get(reverse("client_goals", args=[world.own_client.pk]))
    assert page.status_code == 200
    assert page.content.decode().count("Answered the phone to my mum") == 1


def test_a_moment_in_the_future_or_before_the_episode_is_refused(world):
    actor = world.actor(world.clinician)
    today = timezone.localdate()
    for day in (today + timedelta(days=1), world.own_episode.opened_on - timedelta(days=1)):
        with pytest.raises(ActionError):
            actions.do_add_moment(
                actor, world.own_client.pk, kind="victory", text="x", happened_on=day
            )
    assert not Moment.objects.exists()


def _thanks(world, to=None) -> Thanks:
    return Thanks.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        to=to,
        message="You helped me find my feet again",
        created_at=timezone.now(),
    )


def test_a_kept_thank_you_holds_initials_and_month_only_and_is_kept_once(world):
    actor = world.actor(world.clinician)
    thanks = _thanks(world, to=world.clinician)
    kept = actions.do_keep_thanks(actor, thanks.pk)
    assert actions.do_keep_thanks(actor, thanks.pk).pk == kept.pk
    assert KeptThanks.objects.count() == 1
    row = KeptThanks.objects.values().get()
    assert world.own_client.display_name not in str(row)
    assert row["initials"] == actions.initials(world.own_client.display_name)
    assert row["received"].day == 1
    Alert.objects.all().delete()  # the risk banner names the client on every page
    page = signed_in(world.clinician).get(reverse("gratitude")).content.decode()
    assert "You helped me find my feet again" in page
    assert world.own_client.display_name not in page


def test_a_thank_you_to_one_clinician_is_not_anothers_to_keep(world):
    CareTeamMember.objects.create(
        organisation=world.org, client=world.own_client, membership=world.colleague
    )
    thanks = _thanks(world, to=world.clinician)
    with pytest.raises(NotFound):
        actions.do_keep_thanks(world.actor(world.colleague), thanks.pk)
    assert not KeptThanks.objects.exists()


def test_the_collection_can_be_turned_off_and_cleared(world):
    actor = world.actor(world.clinician)
    actions.do_keep_thanks(actor, _thanks(world).pk)
    actions.do_set_collection(actor, enabled=False, clear=True)
    assert not KeptThanks.objects.exists()
    with pytest.raises(ActionError, match="turned off"):
        actions.do_keep_thanks(actor, _thanks(world).pk)
    body = signed_in(world.clinician).get(reverse("gratitude")).content.decode()
    assert "Your collection is turned off" in body


@pytest.mark.parametrize(
    "role", ["anonymous", "clinician", "colleague", "coordinator", "admin", "outsider"]
)
def test_only_the_owner_can_remove_a_kept_thank_you(world, role):
    kept = actions.do_keep_thanks(world.actor(world.clinician), _thanks(world).pk)
    http = HttpClient() if role == "anonymous" else signed_in(getattr(world, role))
    response = http.post(reverse("kept_forget", args=[kept.pk]))
    expected = {"anonymous": 302, "clinician": 302, "admin": 403}.get(role, 404)
    assert response.status_code == expected
    assert KeptThanks.objects.filter(pk=kept.pk).exists() == (role != "clinician")


# ---- Pure rules, with the published figures they rest on ---------------------------------------

PHQ9 = load_instrument("phq9")  # cut-off 10, reliable change 6 (NHS Talking Therapies manual)
GAD7 = load_instrument("gad7")  # cut-off 8, reliable change 4 (same source)


def test_improvement_is_held_only_when_the_last_two_are_each_reliable():
    held = readiness.improvement_held([readiness.Outcome(PHQ9, "PHQ-9", [18, 11, 12])])
    assert held.met is True  # 18 -> 12 is 6, the PHQ-9's reliable change
    slipped = readiness.improvement_held([readiness.Outcome(PHQ9, "PHQ-9", [18, 12, 13])])
    assert slipped.met is False
    assert readiness.improvement_held([readiness.Outcome(PHQ9, "PHQ-9", [18, 9])]).met is None


def test_below_the_cut_off_means_every_outcome_measure():
    both = [readiness.Outcome(PHQ9, "PHQ-9", [15, 9]), readiness.Outcome(GAD7, "GAD-7", [12, 8])]
    assert readiness.below_cutoff(both).met is False  # GAD-7 8 is at its cut-off
    both[1] = readiness.Outcome(GAD7, "GAD-7", [12, 7])
    assert readiness.below_cutoff(both).met is True


def test_goals_attained_needs_every_goal_rated_at_eight():
    assert readiness.goals_attained([8, 9]).met is True
    assert readiness.goals_attained([8, 7]).met is False
    assert readiness.goals_attained([8, None]).met is None


def test_drift_flags_a_long_episode_without_reliable_improvement():
    flat = [readiness.Outcome(PHQ9, "PHQ-9", [15, 14, 13])]
    keys = [
        d.key
        for d in readiness.drift_flags(flat, attended=12, planned=16, reviewed_at_or_after=None)
    ]
    assert keys == ["long"]
    better = [readiness.Outcome(PHQ9, "PHQ-9", [15, 9])]
    assert readiness.drift_flags(better, attended=12, planned=16, reviewed_at_or_after=None) == []
    assert readiness.drift_flags(flat, attended=11, planned=16, reviewed_at_or_after=None) == []


def test_the_follow_up_rule_uses_the_cut_off_and_reliable_change():
    assert rules.follow_up_signals(PHQ9, [7], 9) == []
    at_cutoff = rules.follow_up_signals(PHQ9, [7], 10)[0]
    assert at_cutoff.facts == {"latest": 10, "cutoff": 10}
    worse = rules.follow_up_signals(PHQ9, [3], 9)[0]
    assert worse.facts == {"latest": 9, "end_of_treatment": 3, "threshold": 6}


def test_a_huge_goal_id_on_a_moment_is_a_clear_refusal(world):
    http = signed_in(world.clinician)
    body: dict[str, object] = {
        "kind": "victory",
        "text": "Rang a friend",
        "happened_on": str(timezone.localdate()),
        "goal_id": 2**70,  # beyond any database integer
    }
    response = http.post(
        f"/api/clients/{world.own_client.pk}/moments", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "one of this episode's goals" in response.json()["detail"]
    assert not Moment.objects.exists()
