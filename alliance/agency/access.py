"""Reading goals, moments and thank-yous: each read checks access and is audited.

A moment a client kept for their therapist alone, and a thank-you addressed to one clinician,
are visible only to that person; to anyone else they do not exist (the same NotFound).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from alliance.accounts.actor import Actor
from alliance.agency.models import Goal, Moment, Thanks, Visibility
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.clients.access import known_id, visible_clients
from alliance.clients.errors import NotFound


def visible_goals(actor: Actor) -> QuerySet[Goal]:
    return Goal.objects.filter(client__in=visible_clients(actor))


def visible_moments(actor: Actor) -> QuerySet[Moment]:
    """Moments of visible clients, less those a client kept for another clinician."""
    return Moment.objects.filter(client__in=visible_clients(actor)).filter(
        Q(visibility=Visibility.TEAM) | Q(therapist_id=actor.membership.pk)
    )


def visible_thanks(actor: Actor) -> QuerySet[Thanks]:
    """Thank-yous to the whole team of a visible client, and those addressed to this actor."""
    return Thanks.objects.filter(client__in=visible_clients(actor)).filter(
        Q(to__isnull=True) | Q(to_id=actor.membership.pk)
    )


def access_goal(
    actor: Actor, goal_id: int, *, action: str = "goal.view", client_id: int | None = None
) -> Goal:
    rows = visible_goals(actor).select_related("episode", "client")
    if client_id is not None:
        rows = rows.filter(client_id=known_id(client_id))
    goal = rows.filter(pk=known_id(goal_id)).first()
    if goal is None:
        record(action, actor=actor, object_type="goal", object_id=goal_id, outcome=Outcome.DENIED)
        raise NotFound("goal", goal_id)
    record(action, actor=actor, client_id=goal.client_id, object_type="goal", object_id=goal.pk)
    return goal


def access_thanks(actor: Actor, thanks_id: int, *, action: str = "thanks.view") -> Thanks:
    thanks = visible_thanks(actor).select_related("client").filter(pk=known_id(thanks_id)).first()
    if thanks is None:
        record(
            action, actor=actor, object_type="thanks", object_id=thanks_id, outcome=Outcome.DENIED
        )
        raise NotFound("thanks", thanks_id)
    record(
        action, actor=actor, client_id=thanks.client_id, object_type="thanks", object_id=thanks.pk
    )
    return thanks


def thanks_to_me(actor: Actor, limit: int = 20) -> list[Thanks]:
    """Thank-yous addressed to this actor, newest first; the read is audited when it shows any."""
    rows = list(visible_thanks(actor).filter(to_id=actor.membership.pk)[:limit])
    if rows:
        record(
            "thanks.list",
            actor=actor,
            object_type="thanks",
            detail={"thanks": [t.pk for t in rows]},
        )
    return rows
