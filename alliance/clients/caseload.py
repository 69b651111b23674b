"""The caseload list: the actor's clients with the facts a clinician scans first.

One query for the rows whatever the caseload's size (plus the audit write and the count).
"""

from __future__ import annotations

from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.clients.access import list_clients
from alliance.clients.models import Attendance, Client, Episode, Phase

SORTS = {"name": "Name", "last_seen": "Last seen", "next": "Next session", "sessions": "Sessions"}
# Empty values sort last on both databases (PostgreSQL would put them first when descending).
ORDER = {
    "name": F("display_name").asc(),
    "last_seen": F("last_seen").desc(nulls_last=True),
    "next": F("next_at").asc(nulls_last=True),
    "sessions": F("sessions").desc(),
}


def caseload(
    actor: Actor, *, sort: str = "name", phase: str = "", query: str = ""
) -> QuerySet[Client]:
    now = timezone.now()
    open_episode = Episode.objects.filter(client=OuterRef("pk")).exclude(phase=Phase.CLOSED)
    rows = list_clients(actor).annotate(
        sessions=Count("encounters", filter=Q(encounters__attendance=Attendance.ATTENDED)),
        last_seen=Max(
            "encounters__starts_at", filter=Q(encounters__attendance=Attendance.ATTENDED)
        ),
        next_at=Min(
            "encounters__starts_at",
            filter=Q(encounters__attendance=Attendance.SCHEDULED, encounters__starts_at__gte=now),
        ),
        phase=Subquery(open_episode.values("phase")[:1]),
        planned=Subquery(open_episode.values("planned_sessions")[:1]),
    )
    if phase:
        rows = rows.filter(phase=phase)
    if query:
        rows = rows.filter(Q(display_name__icontains=query) | Q(record_number__icontains=query))
    return rows.order_by(ORDER[sort], "display_name", "pk")
