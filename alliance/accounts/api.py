from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from alliance.accounts.actor import Actor
from alliance.clients.schemas import ErrorOut
from alliance.web.api_util import actor_of

router = Router(tags=["account"])


class MeOut(Schema):
    username: str
    organisation: str
    role: str
    discipline: str


@router.get(
    "/me",
    response={200: MeOut, 400: ErrorOut, 401: ErrorOut},  # 400: a NUL character in the query
    summary="Who is signed in, and in which role",
)
def me(request: HttpRequest) -> MeOut:
    actor: Actor = actor_of(request)
    membership = actor.membership
    return MeOut(
        username=actor.user.username,
        organisation=membership.organisation.name,
        role=membership.role,
        discipline=membership.discipline,
    )
