from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema


class LinkIn(Schema):
    timing: Literal["before", "after"]
    send_email: bool = False


class LinkOut(Schema):
    id: int
    url: str  # holds the token: shown this once, never again
    expires_at: datetime
    instruments: list[str]


class ResponseOut(Schema):
    id: int
    instrument_id: str
    total: int | None
    band: str
    complete: bool
    flags: list[str]
    submitted_at: datetime
    timing: str
    encounter_id: int | None
    source: str
