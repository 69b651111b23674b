"""Which instruments a session's link asks for, from the episode's measurement plan."""

from __future__ import annotations

from dataclasses import dataclass

from alliance.clients.models import Attendance, Encounter, Episode, Phase
from alliance.measures.models import PlanItem, Schedule, Timing


@dataclass(frozen=True)
class PlanEntry:
    instrument_id: str
    timing: str
    schedule: str
    every_n: int | None = None


# PHQ-9 and GAD-7 before every session, the alliance check after it.
DEFAULT_PLAN = (
    PlanEntry("phq9", Timing.BEFORE, Schedule.EVERY),
    PlanEntry("gad7", Timing.BEFORE, Schedule.EVERY),
    PlanEntry("alliance-session-check", Timing.AFTER, Schedule.EVERY),
)


def plan_for(episode: Episode) -> list[PlanEntry]:
    saved = [
        PlanEntry(p.instrument_id, p.timing, p.schedule, p.every_n)
        for p in PlanItem.objects.filter(episode=episode)
    ]
    return saved or list(DEFAULT_PLAN)


def session_number(encounter: Encounter) -> int:
    """1 for the episode's first session, counting every session not cancelled."""
    earlier = Encounter.objects.filter(
        episode_id=encounter.episode_id, starts_at__lt=encounter.starts_at
    ).exclude(attendance=Attendance.CANCELLED)
    return earlier.count() + 1


def instruments_due(episode: Episode, encounter: Encounter, timing: str) -> list[str]:
    number = session_number(encounter)
    due = []
    for entry in plan_for(episode):
        if entry.timing != timing:
            continue
        if _is_due(entry, number, episode):
            due.append(entry.instrument_id)
    return due


def _is_due(entry: PlanEntry, number: int, episode: Episode) -> bool:
    if entry.schedule == Schedule.EVERY:
        return True
    if entry.schedule == Schedule.INTAKE:
        return number == 1
    if entry.schedule == Schedule.ENDING:
        return episode.phase in {Phase.ENDING, Phase.FOLLOW_UP}
    every = entry.every_n or 1
    return number == 1 or (number - 1) % every == 0
