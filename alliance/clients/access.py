"""The one way to read client data: each function checks access and writes the audit entry.

"Missing" and "not yours" raise the same NotFound, so a caller learns nothing about clients
it may not see.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, Role
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.clients.errors import NotFound
from alliance.clients.models import CareTeamMember, Client, ClientQuerySet, Encounter, Episode
from alliance.rows import table

M = TypeVar("M", bound=Model)

__all__ = [
    "NotFound",
    "access_client",
    "access_encounter",
    "access_episode",
    "list_clients",
    "list_clients_sql",
]


def visible_clients(actor: Actor) -> ClientQuerySet:
    return Client.objects.visible_to(actor)


def visible_clients_sql(actor: Actor, alias: str) -> tuple[str, list[Any]]:
    """`ClientQuerySet.visible_to` as a condition on the client table under `alias`, for fixed
    statements (alliance.rows) on pages every request shows; tests hold the two to the same
    clients for every role."""
    if not actor.membership.is_clinical:
        return "1 = 0", []
    on_care_team = (
        f"EXISTS (SELECT 1 FROM {table(CareTeamMember)} m WHERE m.client_id = {alias}.id "  # noqa: S608
        "AND m.membership_id = %s AND m.ended_at IS NULL)"
    )
    params: list[Any] = [actor.organisation_id, actor.membership.pk]
    if actor.membership.role == Role.COORDINATOR:
        teams = table(Membership.teams.through)
        on_care_team = (
            f"({on_care_team} OR EXISTS (SELECT 1 FROM {teams} t "  # noqa: S608
            f"WHERE t.team_id = {alias}.team_id AND t.membership_id = %s))"
        )
        params.append(actor.membership.pk)
    return f"{alias}.organisation_id = %s AND {on_care_team}", params


MAX_ID = 2**63 - 1  # the largest id a database column holds; larger ones exist nowhere


def known_id(value: int) -> int:
    """An id a query can carry (a huge number from a URL matches nothing, without an error)."""
    return value if 0 < value <= MAX_ID else 0


def access_client(actor: Actor, client_id: int, *, action: str = "client.view") -> Client:
    client = visible_clients(actor).filter(pk=known_id(client_id)).first()
    if client is None:
        _denied(actor, action, "client", client_id)
    assert client is not None
    record(action, actor=actor, client_id=client.pk, object_type="client", object_id=client.pk)
    return client


def access_episode(
    actor: Actor, episode_id: int, *, action: str = "episode.view", client_id: int | None = None
) -> Episode:
    """client_id, when given, is the client the URL named: an episode of another is not found."""
    episode = (
        _of_client(Episode.objects.filter(client__in=visible_clients(actor)), client_id)
        .select_related("client")
        .filter(pk=known_id(episode_id))
        .first()
    )
    if episode is None:
        _denied(actor, action, "episode", episode_id)
    assert episode is not None
    record(
        action,
        actor=actor,
        client_id=episode.client_id,
        object_type="episode",
        object_id=episode.pk,
    )
    return episode


def access_encounter(
    actor: Actor,
    encounter_id: int,
    *,
    action: str = "encounter.view",
    client_id: int | None = None,
) -> Encounter:
    encounter = (
        _of_client(Encounter.objects.filter(client__in=visible_clients(actor)), client_id)
        .select_related("client", "episode")
        .filter(pk=known_id(encounter_id))
        .first()
    )
    if encounter is None:
        _denied(actor, action, "encounter", encounter_id)
    assert encounter is not None
    record(
        action,
        actor=actor,
        client_id=encounter.client_id,
        object_type="encounter",
        object_id=encounter.pk,
    )
    return encounter


def list_clients(actor: Actor) -> ClientQuerySet:
    """The actor's clients for a list page; the read of the list is audited once."""
    clients = visible_clients(actor)
    record("client.list", actor=actor, object_type="client")
    return clients


def list_clients_sql(actor: Actor, alias: str) -> tuple[str, list[Any]]:
    """`list_clients` for a fixed statement: the condition on the client table under `alias`
    (see `visible_clients_sql`); the read of the list is audited once."""
    condition = visible_clients_sql(actor, alias)
    record("client.list", actor=actor, object_type="client")
    return condition


def _of_client(rows: QuerySet[M], client_id: int | None) -> QuerySet[M]:
    return rows if client_id is None else rows.filter(client_id=known_id(client_id))


def _denied(actor: Actor, action: str, object_type: str, object_id: int) -> None:
    record(
        action, actor=actor, object_type=object_type, object_id=object_id, outcome=Outcome.DENIED
    )
    raise NotFound(object_type, object_id)
