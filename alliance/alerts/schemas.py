from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

AlertStatus = Literal["open", "acknowledged", "resolved"]


class AlertOut(Schema):
    id: int
    client_id: int
    kind: str
    status: str
    reason: str  # why it fired, in numbers; never a name
    facts: dict[str, Any]
    opened_at: datetime
    version: int


class AlertPage(Schema):
    count: int
    items: list[AlertOut]


class AlertFilter(Schema):
    status: AlertStatus | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=10**9)


class AcknowledgeIn(Schema):
    version: int


class ResolveIn(Schema):
    version: int
    note: str = Field(max_length=5000)
    checklist: list[str] = Field(default_factory=list, max_length=20)
