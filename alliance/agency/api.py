"""Goals, goal ratings, moments and episode phases over the API: the same actions and access
checks as the pages."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from alliance.agency import actions, endings
from alliance.agency.access import visible_moments
from alliance.agency.models import GOAL_TEXT, MOMENT_TEXT, Goal, GoalRating, Moment
from alliance.clients.access import access_client
from alliance.clients.models import Episode
from alliance.clients.schemas import NOT_FOUND, EpisodeOut, ErrorOut
from alliance.web.api_util import actor_of

router = Router(tags=["goals and endings"])


class GoalOut(Schema):
    id: int
    episode_id: int
    text: str
    status: str
    written_by: str
    created_at: datetime
    retired_reason: str
    version: int
    latest_rating: int | None = None


class GoalIn(Schema):
    text: str = Field(..., min_length=1, max_length=GOAL_TEXT)


class RatingIn(Schema):
    rating: int = Field(..., ge=0, le=10)


class RatingOut(Schema):
    id: int
    goal_id: int
    rating: int
    rated_at: datetime
    source: str


class MomentOut(Schema):
    id: int
    episode_id: int
    kind: str
    text: str
    happened_on: date
    goal_id: int | None
    written_by: str
    visibility: str


class MomentIn(Schema):
    kind: str = Field(..., pattern="^(victory|breakthrough)$")
    text: str = Field(..., min_length=1, max_length=MOMENT_TEXT)
    happened_on: date
    goal_id: int | None = Field(None, ge=1)


class PhaseIn(Schema):
    to: str = Field(..., pattern="^(working|ending|follow_up)$")
    version: int = Field(..., ge=1)
    note: str = Field("", max_length=600)
    follow_up_months: list[int] = Field([1, 3, 6], min_length=1, max_length=6)
    discharged_on: date | None = None
    ending_reason: str = "planned"


def _goal_out(goal: Goal, latest: int | None) -> GoalOut:
    return GoalOut(
        id=goal.pk,
        episode_id=goal.episode_id,
        text=goal.text,
        status=goal.status,
        written_by=goal.written_by,
        created_at=goal.created_at,
        retired_reason=goal.retired_reason,
        version=goal.version,
        latest_rating=latest,
    )


@router.get(
    "/clients/{client_id}/goals",
    response={200: list[GoalOut], **NOT_FOUND},
    summary="The client's goals (every episode), with each goal's latest rating",
)
def goals(request: HttpRequest, client_id: int) -> list[GoalOut]:
    client = access_client(actor_of(request), client_id, action="goal.list")
    rows = list(Goal.objects.filter(client=client).order_by("created_at", "pk"))
    latest = dict(
        GoalRating.objects.filter(goal__in=rows)
        .order_by("rated_at", "pk")
        .values_list("goal_id", "rating")
    )
    return [_goal_out(g, latest.get(g.pk)) for g in rows]


@router.post(
    "/clients/{client_id}/goals",
    response={201: GoalOut, 400: ErrorOut, **NOT_FOUND},
    summary="Write a goal with the client, in their words",
)
def goal_create(request: HttpRequest, client_id: int, body: GoalIn) -> Status[GoalOut]:
    goal = actions.do_add_goal(actor_of(request), client_id, text=body.text)
    return Status(201, _goal_out(goal, None))


@router.post(
    "/goals/{goal_id}/ratings",
    response={201: RatingOut, 400: ErrorOut, **NOT_FOUND},
    summary="Record the client's 0-10 rating of a goal",
)
def goal_rate(request: HttpRequest, goal_id: int, body: RatingIn) -> Status[GoalRating]:
    return Status(201, actions.do_rate_goal(actor_of(request), goal_id, rating=body.rating))


@router.get(
    "/clients/{client_id}/moments",
    response={200: list[MomentOut], **NOT_FOUND},
    summary="Small victories and breakthroughs you may see",
)
def moments(request: HttpRequest, client_id: int) -> list[Moment]:
    actor = actor_of(request)
    client = access_client(actor, client_id, action="moment.list")
    return list(visible_moments(actor).filter(client=client).order_by("happened_on", "pk"))


@router.post(
    "/clients/{client_id}/moments",
    response={201: MomentOut, 400: ErrorOut, **NOT_FOUND},
    summary="Log a small victory or a breakthrough",
)
def moment_create(request: HttpRequest, client_id: int, body: MomentIn) -> Status[Moment]:
    moment = actions.do_add_moment(
        actor_of(request),
        client_id,
        kind=body.kind,
        text=body.text,
        happened_on=body.happened_on,
        goal_id=body.goal_id,
    )
    return Status(201, moment)


@router.post(
    "/episodes/{episode_id}/phase",
    response={200: EpisodeOut, 400: ErrorOut, **NOT_FOUND},
    summary="Move the episode: working, ending, follow-up (discharge), or back to working",
)
def episode_phase(request: HttpRequest, episode_id: int, body: PhaseIn) -> Episode:
    months = endings.parse_months(",".join(str(m) for m in body.follow_up_months))
    return endings.do_move_phase(
        actor_of(request),
        episode_id,
        to=body.to,
        version=body.version,
        note=body.note,
        months=months,
        discharged_on=body.discharged_on,
        reason=body.ending_reason,
    )
