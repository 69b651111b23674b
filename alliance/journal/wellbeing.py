"""The wellbeing page's figures: recent check-ins, gentle notes, and the caseload's weight.

Everything here is about the signed-in clinician and shown to them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.alerts.models import Kind, Status
from alliance.audit.log import record
from alliance.clients.models import Attendance, Client, Encounter
from alliance.journal.models import Rhythm, WellbeingCheckin, WellbeingPreference

TREND_LENGTH = 12
HEAVY_LOAD = 7
HEAVY_RUN = 3
HEAVY_NOTE = (
    "Your load has felt heavy at your last three check-ins. That is worth noticing, not fixing "
    "alone: is there a supervisor, colleague or friend you could talk it over with, or one thing "
    "you could put down this week?"
)


def recent_checkins(actor: Actor) -> list[WellbeingCheckin]:
    """The last check-ins, oldest first (the order a trend is read in)."""
    newest = WellbeingCheckin.objects.filter(author=actor.user).order_by("-at", "-pk")
    return list(reversed(newest[:TREND_LENGTH]))


def preference(actor: Actor) -> WellbeingPreference:
    found = WellbeingPreference.objects.filter(user=actor.user).first()
    return found or WellbeingPreference(user=actor.user)


def heavy_note(checkins: list[WellbeingCheckin], pref: WellbeingPreference) -> str:
    last = checkins[-HEAVY_RUN:]
    heavy = len(last) == HEAVY_RUN and all(c.load >= HEAVY_LOAD for c in last)
    return HEAVY_NOTE if heavy and pref.prompts_on else ""


def reminder(checkins: list[WellbeingCheckin], pref: WellbeingPreference, now: datetime) -> str:
    if not checkins:
        return "You have not checked in yet. It takes a minute."
    due = checkins[-1].at + timedelta(days=pref.rhythm_days)
    if now < due:
        return ""
    rhythm = Rhythm(pref.rhythm_days).label.lower()
    return f"You asked to check in {rhythm}; your last check-in was a while ago."


@dataclass(frozen=True)
class Intensity:
    clients: int
    with_risk: int
    not_on_track: int
    sessions_this_week: int

    @staticmethod
    def share(part: int, whole: int) -> str:
        return f"{round(100 * part / whole)}%" if whole else "—"

    @property
    def risk_share(self) -> str:
        return self.share(self.with_risk, self.clients)

    @property
    def not_on_track_share(self) -> str:
        return self.share(self.not_on_track, self.clients)


def _unresolved(kind: str) -> Q:
    return Q(alerts__kind=kind) & ~Q(alerts__status=Status.RESOLVED)


def intensity(actor: Actor, now: datetime) -> Intensity:
    """The caseload's weight in two queries: the client figures, then this week's sessions."""
    visible = Client.objects.visible_to(actor).values("pk")
    figures = Client.objects.filter(pk__in=visible).aggregate(
        clients=Count("pk", distinct=True),
        with_risk=Count("pk", filter=_unresolved(Kind.RISK), distinct=True),
        not_on_track=Count("pk", filter=_unresolved(Kind.NOT_ON_TRACK), distinct=True),
    )
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    sessions = (
        Encounter.objects.filter(
            clinician=actor.membership,
            starts_at__gte=monday,
            starts_at__lt=monday + timedelta(days=7),
        )
        .exclude(attendance=Attendance.CANCELLED)
        .count()
    )
    return Intensity(figures["clients"], figures["with_risk"], figures["not_on_track"], sessions)


def audit_view(actor: Actor) -> None:
    record("wellbeing.view", actor=actor, object_type="wellbeing")
