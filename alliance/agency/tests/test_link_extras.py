"""The client's goal ratings, new goal, victory and thank-you travel with their answers: stored
together in the submission's transaction, or not at all."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from alliance.agency.models import Goal, GoalRating, Moment, Thanks
from alliance.alerts.models import Alert
from alliance.audit.models import AuditEntry
from alliance.measures import actions
from alliance.measures.models import MeasureLink, Response
from alliance.measures.plan import DEFAULT_PLAN, PlanEntry

pytestmark = pytest.mark.django_db

PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 0]
GAD7 = [1, 1, 1, 1, 1, 1, 1]


def answers() -> dict[str, str]:
    data = {f"phq9__item{n}": str(v) for n, v in enumerate(PHQ9, start=1)}
    data |= {f"gad7__item{n}": str(v) for n, v in enumerate(GAD7, start=1)}
    return data


RATINGS = PlanEntry("alliance-goal-progress", "before", "every")


def _link_with_goal(world, plan: list[PlanEntry], text: str):
    """A link for the session under `plan`, for a client with one goal."""
    actor = world.actor(world.clinician)
    actions.do_set_plan(actor, world.own_episode.pk, plan, client_id=world.own_client.pk)
    goal = Goal.objects.create(
        organisation=world.org,
        client=world.own_client,
        episode=world.own_episode,
        text=text,
        written_by="client",
        created_at=timezone.now(),
    )
    link, token = actions.do_create_link(
        actor, world.own_encounter.pk, timing="before", send_email=False
    )
    return goal, link, token


@pytest.fixture
def goal_link(world):
    """A link whose plan asks the goal-progress rating, for a client with one goal."""
    Alert.objects.all().delete()
    goal, link, token = _link_with_goal(
        world, [*DEFAULT_PLAN, RATINGS], "Walk to the park on my own"
    )
    return world, goal, link, token


def url(token: str) -> str:
    return reverse("measure_link", args=[token])


def test_the_page_asks_for_each_goal_and_offers_the_extras(goal_link, client):
    _world, goal, _link, token = goal_link
    body = client.get(url(token)).content.decode()
    assert "Walk to the park on my own" in body
    assert body.count(f'name="goal-{goal.pk}"') == 11  # 0 to 10
    for name in ("new_goal", "moment_text", "thanks_text", "thanks_to"):
        assert f'name="{name}"' in body
    assert "alliance-goal-progress" not in body  # asked per goal, not as one item


def test_everything_sent_is_stored_together_and_the_audit_holds_no_words(goal_link, client):
    world, goal, link, token = goal_link
    data = answers() | {
        f"goal-{goal.pk}": "6",
        "new_goal": "Sleep through most nights",
        "moment_text": "Took the bus into town",
        "moment_kind": "breakthrough",
        "moment_visibility": "therapist",
        "moment_goal": str(goal.pk),
        "thanks_text": "Thank you for your patience",
        "thanks_to": str(world.clinician.pk),
    }
    response = client.post(url(token), data)
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    assert Response.objects.filter(link=link).count() == 2
    rating = GoalRating.objects.get(goal=goal)
    assert (rating.rating, rating.source, rating.link_id) == (6, "client", link.pk)
    new = Goal.objects.get(text="Sleep through most nights")
    assert (new.written_by, new.episode_id, new.changes.count()) == ("client", goal.episode_id, 1)
    moment = Moment.objects.get()
    assert (moment.kind, moment.visibility, moment.goal_id) == (
        "breakthrough",
        "therapist",
        goal.pk,
    )
    assert moment.therapist_id == world.clinician.pk  # the session's clinician
    thanks = Thanks.objects.get()
    assert (thanks.to_id, thanks.message) == (world.clinician.pk, "Thank you for your patience")
    entry = AuditEntry.objects.get(action="response.submit")
    assert entry.detail["goal_ratings"] == 1
    assert entry.detail["moment"] == "breakthrough"
    audit_text = str(list(AuditEntry.objects.values()))
    for words in ("Took the bus", "Sleep through", "patience", "Walk to the park"):
        assert words not in audit_text


def test_a_goal_left_unrated_stores_nothing_and_keeps_what_was_typed(goal_link, client):
    _world, _goal, link, token = goal_link
    data = answers() | {"moment_text": "Went to the shop", "thanks_text": "Thanks, all"}
    response = client.post(url(token), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "how far along you are" in body
    assert "Went to the shop" in body
    assert "Thanks, all" in body
    assert not Response.objects.exists()
    assert not GoalRating.objects.exists()
    assert not Moment.objects.exists()
    assert not Thanks.objects.exists()
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("goal", "11", "from 0 to 10"),
        ("goal", "²", "from 0 to 10"),
        ("thanks_to", "999999", "who your message is for"),
        ("thanks_text", "x" * 1001, "at most 1000"),
        ("moment_text", "y" * 601, "at most 600"),
        ("moment_kind", "triumph", "small victory or a breakthrough"),
        ("moment_goal", "424242", "one of your goals"),
        ("new_goal", "z" * 301, "at most 300"),
    ],
)
def test_bad_extras_are_refused_with_a_message_and_nothing_changes(
    goal_link, client, field, value, message
):
    _world, goal, _link, token = goal_link
    data = answers() | {f"goal-{goal.pk}": "5", "moment_text": "A good day", "thanks_text": "Hi"}
    data[f"goal-{goal.pk}" if field == "goal" else field] = value
    response = client.post(url(token), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Response.objects.exists()
    assert not GoalRating.objects.exists()
    assert Goal.objects.count() == 1


def test_a_thank_you_cannot_be_addressed_to_someone_off_the_care_team(goal_link, client):
    world, goal, _link, token = goal_link
    data = answers() | {f"goal-{goal.pk}": "5", "thanks_text": "Hello"}
    data["thanks_to"] = str(world.outsider.pk)  # another clinic's clinician
    assert client.post(url(token), data).status_code == 400
    assert not Thanks.objects.exists()


def test_a_sixth_goal_is_refused_kindly(goal_link, client):
    world, _goal, _link, token = goal_link
    for n in range(4):
        Goal.objects.create(
            organisation=world.org,
            client=world.own_client,
            episode=world.own_episode,
            text=f"Goal {n}",
            written_by="client",
            created_at=timezone.now(),
        )
    body = client.get(url(token)).content.decode()
    assert 'name="new_goal"' not in body
    data = answers() | {f"goal-{g.pk}": "5" for g in Goal.objects.all()}
    data["new_goal"] = "One more"
    response = client.post(url(token), data)
    assert response.status_code == 400
    assert "5 goals already" in response.content.decode()
    assert not Response.objects.exists()


def test_a_plain_submission_still_reads_no_goals(world, client, django_assert_max_num_queries):
    """Without extras, a submission reads nothing more than it did before goals existed."""
    Alert.objects.all().delete()
    _link, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.post(url(token), answers()).status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "agency_goal" not in tables
    assert "clients_careteammember" not in tables


def test_a_link_asking_only_goal_ratings_stores_them_and_completes(world, client):
    """A plan of the goal-progress rating alone: no questionnaire, so no response row, yet the
    link is claimed, the rating kept and the submission audited."""
    goal, link, token = _link_with_goal(world, [RATINGS], "Cook a meal for friends")

    response = client.post(url(token), {f"goal-{goal.pk}": "4"})
    again = client.post(url(token), {f"goal-{goal.pk}": "9"})

    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    assert "already have your answers" in again.content.decode()
    assert MeasureLink.objects.get(pk=link.pk).completed_at is not None
    assert list(GoalRating.objects.filter(goal=goal).values_list("rating", flat=True)) == [4]
    assert not Response.objects.filter(link=link).exists()
    assert AuditEntry.objects.filter(action="response.submit").count() == 1
