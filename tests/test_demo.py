"""`alliance demo`: a fictional clinic, the same for the same seed, scalable."""

from __future__ import annotations

import pytest
from django.utils import timezone

from alliance.accounts.actor import actor_for
from alliance.accounts.models import Membership, Organisation, Role
from alliance.clients.models import Client, Encounter, EncounterKind, EndingReason, Episode, Phase
from alliance.demo.generate import load_demo

pytestmark = pytest.mark.django_db


def _snapshot() -> list[tuple[object, ...]]:
    from alliance.agency.models import GoalRating
    from alliance.alerts.models import Alert

    clients = Client.objects.order_by("record_number").values_list(
        "record_number",
        "display_name",
        "team__name",
        "episodes__planned_sessions",
        "episodes__phase",
    )
    ratings = GoalRating.objects.order_by("rated_at", "goal__text").values_list(
        "client__record_number", "goal__text", "rating"
    )
    reasons = Alert.objects.order_by("client__record_number", "kind").values_list(
        "client__record_number", "kind", "reason"
    )
    return [*clients, *ratings, *reasons]


def test_it_creates_every_role_and_about_forty_clients():
    assert load_demo(seed=7, clients=40)
    org = Organisation.objects.get(slug="riverbend-demo")
    roles = set(Membership.objects.filter(organisation=org).values_list("role", flat=True))
    assert roles == set(Role.values)
    today = Client.objects.filter(organisation=org).exclude(record_number__startswith="RB-H")
    assert today.count() == 40
    assert Episode.objects.filter(client__in=today).count() == 40
    # And the past: finished episodes enough to fit the clinic's own bands (history.py).
    past = Episode.objects.filter(organisation=org, client__record_number__startswith="RB-H")
    assert past.count() == 240
    assert not past.filter(ended_on__isnull=True).exists()
    assert Encounter.objects.filter(organisation=org).count() > 40
    disciplines = set(
        Membership.objects.filter(organisation=org).values_list("discipline", flat=True)
    )
    assert len(disciplines - {""}) >= 5


def test_the_same_seed_gives_the_same_clinic():
    load_demo(seed=11, clients=12)
    first = _snapshot()
    _forget_everything()
    load_demo(seed=11, clients=12)
    assert _snapshot() == first


def _forget_everything() -> None:
    from alliance.accounts.models import ClinicSettings, Team, User
    from alliance.agency import models as agency
    from alliance.alerts.models import Alert
    from alliance.care import models as care
    from alliance.clients.models import CareTeamMember
    from alliance.measures.models import Response
    from alliance.trajectories.models import TrajectoryFit

    for model in (
        TrajectoryFit,
        ClinicSettings,
        agency.Moment,
        agency.Thanks,
        agency.GoalRating,
        agency.GoalChange,
        agency.Goal,
        agency.CheckIn,
        agency.PhaseChange,
        agency.Review,
        agency.RelapsePlan,
        agency.ClientView,
        care.HandoffRead,
        care.Handoff,
        care.Relationship,
        care.SharingConsent,
        care.CaseReview,
        care.CareItem,
        care.NeedShare,
        care.NeedsProfile,
        Alert,
        Response,
        Encounter,
        Episode,
        CareTeamMember,
        Client,
        Membership,
        Team,
        User,
        Organisation,
    ):
        model.objects.all().delete()


def test_the_demo_shows_scores_and_the_alerts_the_rules_give():
    from alliance.alerts.models import Alert
    from alliance.measures.models import Response

    load_demo(seed=2026, clients=40)
    assert Response.objects.filter(instrument_id="phq9").count() > 100
    kinds = set(Alert.objects.values_list("kind", flat=True))
    assert {"risk", "not_on_track", "rupture"} <= kinds
    assert all(a.reason for a in Alert.objects.all())


def test_it_leaves_a_database_with_data_alone_when_asked():
    load_demo(seed=1, clients=3)
    assert load_demo(seed=1, clients=3, if_empty=True) is False
    assert Organisation.objects.filter(slug="riverbend-demo").count() == 1


def test_it_scales_in_batches():
    load_demo(seed=3, clients=2500)
    clients = Client.objects.filter(organisation__slug="riverbend-demo")
    assert clients.exclude(record_number__startswith="RB-H").count() == 2500


def _demo_episode(phase: str) -> Episode:
    """The story told in this phase: the one episode with a relapse plan in it."""
    (episode,) = Episode.objects.filter(
        organisation__slug="riverbend-demo", phase=phase, relapse_plan__isnull=False
    )
    return episode


def test_goals_in_the_clients_words_are_rated_over_sessions_and_rise():
    from alliance.agency.models import Author, ChangeKind, Goal, GoalStatus

    load_demo(seed=2026, clients=40)
    ratings = {
        g: [r.rating for r in g.ratings.all()] for g in Goal.objects.prefetch_related("ratings")
    }
    rated = [g for g, given in ratings.items() if len(given) >= 3]
    assert len({g.client_id for g in rated}) >= 4
    leads = Goal.objects.filter(
        client__care_team__care_role="lead", client__care_team__ended_at__isnull=True
    ).values_list("client__care_team__membership__user__username", flat=True)
    assert set(leads) == {"alex", "noor"}
    for goal in rated:
        if goal.status == GoalStatus.ACTIVE:
            assert ratings[goal][-1] > ratings[goal][0], goal.text
    assert Goal.objects.filter(written_by=Author.CLIENT, created_by=None).exists()
    revised = Goal.objects.get(changes__kind=ChangeKind.REVISED)
    history = list(revised.changes.all())
    assert [c.kind for c in history] == [ChangeKind.CREATED, ChangeKind.REVISED]
    assert history[0].text != history[1].text == revised.text
    retired = Goal.objects.get(status=GoalStatus.RETIRED)
    assert retired.retired_reason
    assert [c.kind for c in retired.changes.all()] == [ChangeKind.CREATED, ChangeKind.RETIRED]


def test_moments_of_both_kinds_fall_within_their_episodes():
    from alliance.agency.models import Moment, MomentKind, Visibility

    load_demo(seed=2026, clients=40)
    moments = list(Moment.objects.select_related("episode"))
    assert {m.kind for m in moments} == set(MomentKind.values)
    assert any(m.goal_id for m in moments)
    assert all(m.episode.opened_on <= m.happened_on <= timezone.localdate() for m in moments)
    private = Moment.objects.get(visibility=Visibility.THERAPIST)
    assert private.therapist is not None
    assert private.therapist.user.username == "alex"


def test_thanks_reach_the_team_and_alex_keeps_one_with_initials_only():
    from alliance.agency.actions import _source, initials
    from alliance.agency.models import KeptThanks, Thanks

    load_demo(seed=2026, clients=40)
    assert Thanks.objects.filter(to=None).exists()
    to_alex = Thanks.objects.select_related("client").get(to__user__username="alex")
    kept = KeptThanks.objects.get(user__username="alex")
    assert kept.source == _source(to_alex.pk)
    assert kept.initials == initials(to_alex.client.display_name)
    assert to_alex.client.display_name not in kept.message
    assert kept.received.day == 1


def test_an_episode_in_its_ending_phase_is_ready_to_end_with_a_plan():
    from alliance.agency.endings import ending_view
    from alliance.agency.models import ClientView, PhaseChange, RelapsePlan, Review

    load_demo(seed=2026, clients=40)
    episode = _demo_episode(Phase.ENDING)
    plan = RelapsePlan.objects.get(episode=episode)
    assert plan.warning_signs
    assert plan.what_helps
    assert plan.who_to_contact
    assert plan.what_to_do
    review = Review.objects.get(episode=episode)
    assert review.planned_after == episode.planned_sessions
    moves = PhaseChange.objects.filter(episode=episode).values_list("from_phase", "to_phase")
    assert list(moves) == [("engagement", "working"), ("working", "ending")]
    view = ending_view(episode)
    assert [i.met for i in view.indicators] == [True, True, True, True]
    assert view.drift == []
    assert ClientView.objects.filter(client=episode.client, enabled=True).exists()


def test_a_discharged_client_slipped_back_at_the_first_check_in():
    from alliance.agency.models import CheckIn, CheckInStatus, PhaseChange
    from alliance.alerts import rules
    from alliance.alerts.models import Alert, Kind, Status
    from alliance.measurement import load_instrument
    from alliance.measures.models import Response

    load_demo(seed=2026, clients=40)
    episode = _demo_episode(Phase.FOLLOW_UP)
    assert episode.ending_reason == EndingReason.PLANNED
    moves = PhaseChange.objects.filter(episode=episode).values_list("to_phase", flat=True)
    assert list(moves) == ["working", "ending", "follow_up"]
    check_ins = list(CheckIn.objects.filter(episode=episode).select_related("encounter"))
    assert [c.months for c in check_ins] == [1, 3, 6]
    assert [c.status for c in check_ins] == [
        CheckInStatus.ANSWERED,
        CheckInStatus.SCHEDULED,
        CheckInStatus.SCHEDULED,
    ]
    now = timezone.now()
    assert all(c.encounter.kind == EncounterKind.FOLLOW_UP for c in check_ins)
    assert check_ins[0].encounter.starts_at < now < check_ins[1].encounter.starts_at
    phq = Response.objects.filter(episode=episode, instrument_id="phq9").order_by("submitted_at")
    in_treatment = [r.total for r in phq if r.encounter_id != check_ins[0].encounter_id]
    answered = phq.get(encounter=check_ins[0].encounter)
    assert answered.total is not None
    assert answered.total >= 10
    assert in_treatment[-1] is not None
    assert answered.total - in_treatment[-1] >= 6
    alert = Alert.objects.get(episode=episode, kind=Kind.FOLLOW_UP, status=Status.OPEN)
    assert alert.response == answered
    (signal,) = rules.follow_up_signals(
        load_instrument("phq9"), [t for t in in_treatment if t is not None], answered.total
    )
    assert alert.reason == signal.reason
    assert f"PHQ-9 is {answered.total} at the follow-up check-in" in alert.reason
    assert f"end of treatment ({in_treatment[-1]})" in alert.reason


def test_the_demo_shows_whole_person_care():
    from alliance.accounts.actor import Actor
    from alliance.care.access import care_items
    from alliance.care.actions import current_needs, do_withdraw_consent
    from alliance.care.models import SharingConsent
    from alliance.care.registry import registry

    load_demo()
    staff = {
        m.user.username: Actor(m.user, m)
        for m in Membership.objects.select_related("user", "organisation")
    }
    client = Client.objects.get(record_number="RB-000002")
    profile = current_needs(client.episodes.exclude(phase="closed").get())
    assert profile is not None
    unmet = sum(s.percent for s in profile.shares.all() if s.owner_id is None)
    assert unmet == 35
    seen, withheld = care_items(staff["jo"], client)
    assert (len(seen), withheld) == (1, 2)
    assert care_items(staff["sam"], client)[1] == 0
    psychiatry = SharingConsent.objects.get(client=client, discipline="psychiatry")
    do_withdraw_consent(staff["alex"], client.pk, psychiatry.pk)
    assert care_items(staff["sam"], client)[1] == 2
    found = registry(staff["casey"])
    assert found.counts["not_improving"] > 0
    assert found.counts["discuss"] == 2
    assert found.counts["unmet"] >= 1


def test_the_demo_fits_its_bands_and_a_not_on_track_alert_cites_one():
    from alliance.alerts.models import Alert
    from alliance.trajectories.models import TrajectoryFit

    load_demo(seed=2026, clients=40)
    fits = {f.instrument_id: f for f in TrajectoryFit.objects.all()}
    assert set(fits) == {"phq9", "gad7"}
    assert fits["phq9"].episodes >= 200
    assert fits["phq9"].model["converged"]
    cited = Alert.objects.filter(kind="not_on_track", facts__method="fitted")
    assert cited.exists()
    first = cited.first()
    assert first is not None
    assert "band fitted" in first.reason


def test_the_demo_report_has_figures_and_suppresses_small_cells():
    from datetime import timedelta

    from alliance.reports.query import Query
    from alliance.reports.service import outcome_report

    load_demo(seed=2026, clients=40)
    admin = Membership.objects.get(user__username="admin")
    actor = actor_for(admin.user, admin.pk)
    assert actor is not None
    today = timezone.localdate()
    report = outcome_report(actor, Query(today - timedelta(days=730), today, "team", "paired"))
    finished = report.total.counts["finished"].value
    assert finished is not None
    assert finished >= 200
    assert report.total.rates["recovery_rate"].value is not None
    recent = outcome_report(actor, Query(today - timedelta(days=60), today, "severity", "paired"))
    assert recent.hidden > 0
