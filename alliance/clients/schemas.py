from __future__ import annotations

from datetime import date, datetime

from ninja import Schema


class ClientOut(Schema):
    id: int
    display_name: str
    record_number: str
    team: str | None


class CareTeamMemberOut(Schema):
    membership_id: int
    name: str
    discipline: str
    care_role: str


class ClientDetailOut(ClientOut):
    care_team: list[CareTeamMemberOut]


class EpisodeOut(Schema):
    id: int
    opened_on: date
    phase: str
    planned_sessions: int | None
    closed_on: date | None
    ending_reason: str
    version: int


class EncounterOut(Schema):
    id: int
    episode_id: int
    starts_at: datetime
    kind: str
    attendance: str
    version: int


class EncounterIn(Schema):
    starts_at: datetime
    kind: str


class AttendanceIn(Schema):
    attendance: str
    version: int


class ErrorOut(Schema):
    detail: str


# Any operation: 400 for a NUL character or a body that is not JSON, 401 without a valid token
# or session, 422 for a path, query or body that does not validate; each {"detail": …}.
REFUSED = {400: ErrorOut, 401: ErrorOut, 422: ErrorOut}
NOT_FOUND = {**REFUSED, 404: ErrorOut}
