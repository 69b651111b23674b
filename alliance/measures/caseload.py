"""The caseload: every client on the clinician's teams, with who needs attention first.

The rows come from one query whatever the caseload's size: every figure is a subquery
(latest and intake scores of the open episode, alliance trend, open alerts). The alert kinds of
the clients on the page come from one more query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.alerts.models import Alert, Status
from alliance.alerts.rules import short_name
from alliance.clients.access import list_clients
from alliance.clients.models import Attendance, Client, Episode, Phase
from alliance.measurement import load_instrument
from alliance.measures.models import Response

SORTS = {
    "attention": "Needs attention",
    "name": "Name",
    "last_measured": "Last measured",
    "next": "Next session",
    "sessions": "Sessions",
}
# Empty values sort last on both databases (PostgreSQL would put them first when descending).
ORDER = {
    "attention": [F("attention").asc(), F("display_name").asc()],
    "name": [F("display_name").asc()],
    "last_measured": [F("last_measured").desc(nulls_last=True)],
    "next": [F("next_at").asc(nulls_last=True)],
    "sessions": [F("sessions").desc()],
}
OUTCOMES = ("phq9", "gad7")
ALLIANCE = "alliance-session-check"
NO_ALERT = 9  # sorts after every alert priority


def _scores(instrument_id: str, *, newest: bool, offset: int = 0) -> QuerySet[Response]:
    open_episode = Episode.objects.filter(client=OuterRef(OuterRef("pk"))).exclude(
        phase=Phase.CLOSED
    )
    order = ("-submitted_at", "-pk") if newest else ("submitted_at", "pk")
    return Response.objects.filter(
        client=OuterRef("pk"),
        instrument_id=instrument_id,
        complete=True,
        episode_id=Subquery(open_episode.values("pk")[:1]),
    ).order_by(*order)[offset : offset + 1]


def caseload(
    actor: Actor,
    *,
    sort: str = "attention",
    phase: str = "",
    query: str = "",
    attention_only: bool = False,
) -> QuerySet[Client]:
    now = timezone.now()
    open_episode = Episode.objects.filter(client=OuterRef("pk")).exclude(phase=Phase.CLOSED)
    unresolved = Alert.objects.filter(client=OuterRef("pk")).exclude(status=Status.RESOLVED)
    figures: dict[str, Any] = {
        "sessions": Count(
            "encounters",
            filter=Q(encounters__attendance=Attendance.ATTENDED)
            & Q(encounters__episode__in=open_episode.values("pk")),
        ),
        "next_at": Min(
            "encounters__starts_at",
            filter=Q(encounters__attendance=Attendance.SCHEDULED, encounters__starts_at__gte=now),
        ),
        "phase": Subquery(open_episode.values("phase")[:1]),
        "planned": Subquery(open_episode.values("planned_sessions")[:1]),
        "last_measured": Subquery(
            Response.objects.filter(client=OuterRef("pk"))
            .order_by("-submitted_at")
            .values("submitted_at")[:1]
        ),
        "alert_priority": Subquery(
            unresolved.order_by("priority").values("priority")[:1], output_field=IntegerField()
        ),
        "alliance_latest": Subquery(_scores(ALLIANCE, newest=True).values("total")),
        "alliance_before": Subquery(_scores(ALLIANCE, newest=True, offset=1).values("total")),
    }
    for instrument_id in OUTCOMES:
        figures[f"{instrument_id}_latest"] = Subquery(
            _scores(instrument_id, newest=True).values("total")
        )
        figures[f"{instrument_id}_band"] = Subquery(
            _scores(instrument_id, newest=True).values("band")
        )
        figures[f"{instrument_id}_intake"] = Subquery(
            _scores(instrument_id, newest=False).values("total")
        )
    rows = list_clients(actor).annotate(**figures)
    rows = rows.annotate(
        attention=Case(
            When(alert_priority__isnull=False, then=F("alert_priority")),
            default=Value(NO_ALERT),
            output_field=IntegerField(),
        )
    )
    if phase:
        rows = rows.filter(**{"phase": phase})  # an annotation: the type checker cannot see it
    if query:
        rows = rows.filter(Q(display_name__icontains=query) | Q(record_number__icontains=query))
    if attention_only:
        rows = rows.filter(**{"alert_priority__isnull": False})
    return rows.order_by(*ORDER[sort], "display_name", "pk")


@dataclass(frozen=True)
class Change:
    name: str
    latest: int
    band: str
    change: int | None
    verdict: str  # "improved", "deteriorated", "no reliable change", ""


def changes(row: Client) -> list[Change]:
    """Latest score and change since intake per outcome measure, judged by its threshold."""
    found = []
    for instrument_id in OUTCOMES:
        latest = getattr(row, f"{instrument_id}_latest", None)
        if latest is None:
            continue
        intake = getattr(row, f"{instrument_id}_intake", None)
        instrument = load_instrument(instrument_id)
        change = latest - intake if intake is not None else None
        verdict = ""
        rc = instrument.reliable_change
        if rc is not None and change is not None:
            if change <= -rc.value:
                verdict = "improved"
            elif change >= rc.value:
                verdict = "deteriorated"
            else:
                verdict = "no reliable change"
        name = short_name(instrument)
        found.append(
            Change(name, latest, getattr(row, f"{instrument_id}_band", ""), change, verdict)
        )
    return found


def alliance_trend(row: Client) -> str:
    latest = getattr(row, "alliance_latest", None)
    before = getattr(row, "alliance_before", None)
    if latest is None:
        return ""
    if before is None:
        return f"{latest}/40"
    arrow = "↑" if latest > before else "↓" if latest < before else "→"
    return f"{latest}/40 {arrow}"


def alert_kinds(clients: list[Client]) -> dict[int, list[Alert]]:
    """Unresolved alerts of the clients on one page, in one query."""
    found: dict[int, list[Alert]] = {c.pk: [] for c in clients}
    alerts = Alert.objects.filter(client_id__in=found).exclude(status=Status.RESOLVED)
    for alert in alerts.order_by("priority", "-opened_at"):
        found[alert.client_id].append(alert)
    return found


def last_measured(row: Client) -> datetime | None:
    return getattr(row, "last_measured", None)
