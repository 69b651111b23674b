"""Client endpoints: each reads through access_* and changes through the same actions as the
web pages."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from alliance.clients import actions
from alliance.clients.access import access_client, access_episode, list_clients
from alliance.clients.models import Client, Encounter
from alliance.clients.schemas import (
    NOT_FOUND,
    REFUSED,
    AttendanceIn,
    CareTeamMemberOut,
    ClientDetailOut,
    ClientOut,
    EncounterIn,
    EncounterOut,
    EpisodeOut,
    ErrorOut,
)
from alliance.web.api_util import actor_of

router = Router(tags=["clients"])


class Page(Schema):
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=10**9)


class ClientPage(Schema):
    count: int
    items: list[ClientOut]


def _client_out(client: Client) -> ClientOut:
    return ClientOut(
        id=client.pk,
        display_name=client.display_name,
        record_number=client.record_number,
        team=client.team.name if client.team else None,
    )


@router.get("/clients", response={200: ClientPage, **REFUSED}, summary="Your clients")
def clients(request: HttpRequest, page: Query[Page]) -> Status[ClientPage | ErrorOut]:
    rows = list_clients(actor_of(request)).select_related("team").order_by("display_name", "pk")
    items = [_client_out(c) for c in rows[page.offset : page.offset + page.limit]]
    return Status(200, ClientPage(count=rows.count(), items=items))


@router.get("/clients/{client_id}", response={200: ClientDetailOut, **NOT_FOUND})
def client_detail(request: HttpRequest, client_id: int) -> ClientDetailOut:
    client = access_client(actor_of(request), client_id)
    members = client.care_team.filter(ended_at__isnull=True).select_related("membership__user")
    return ClientDetailOut(
        **_client_out(client).dict(),
        care_team=[
            CareTeamMemberOut(
                membership_id=m.membership_id,
                name=m.membership.user.display_name,
                discipline=m.discipline,
                care_role=m.care_role,
            )
            for m in members
        ],
    )


@router.get("/clients/{client_id}/episodes", response={200: list[EpisodeOut], **NOT_FOUND})
def client_episodes(request: HttpRequest, client_id: int) -> list[EpisodeOut]:
    client = access_client(actor_of(request), client_id, action="episode.list")
    return [EpisodeOut.from_orm(e) for e in client.episodes.all()]


@router.get("/episodes/{episode_id}/encounters", response={200: list[EncounterOut], **NOT_FOUND})
def episode_encounters(request: HttpRequest, episode_id: int) -> list[EncounterOut]:
    episode = access_episode(actor_of(request), episode_id, action="encounter.list")
    return [EncounterOut.from_orm(e) for e in episode.encounters.all()]


@router.post(
    "/episodes/{episode_id}/encounters",
    response={201: EncounterOut, 400: ErrorOut, **NOT_FOUND},
    summary="Book a session",
)
def encounter_create(request: HttpRequest, episode_id: int, body: EncounterIn) -> Status[Encounter]:
    encounter = actions.do_schedule_encounter(
        actor_of(request), episode_id, starts_at=body.starts_at, kind=body.kind
    )
    return Status(201, encounter)


@router.post(
    "/encounters/{encounter_id}/attendance",
    response={200: EncounterOut, 400: ErrorOut, **NOT_FOUND},
    summary="Record attendance (send the version you read)",
)
def encounter_attendance(request: HttpRequest, encounter_id: int, body: AttendanceIn) -> Encounter:
    return actions.do_record_attendance(
        actor_of(request), encounter_id, attendance=body.attendance, version=body.version
    )
