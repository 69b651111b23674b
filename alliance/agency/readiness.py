"""Readiness to end, and drift: pure functions over an episode's figures (no database).

Readiness indicators (each shown with the numbers behind it, never as a verdict):
- reliable improvement held: the last two measured totals of an outcome measure are each better
  than intake by at least the instrument's reliable-change threshold (PHQ-9: 6, GAD-7: 4, as the
  instrument files cite from NHS Talking Therapies);
- below the clinical cut-off: the latest total of every outcome measure is under its caseness
  cut-off (PHQ-9: 10, GAD-7: 8, from the same files);
- goals attained: every active goal's latest rating is at least GOAL_ATTAINED of 10 (Alliance's
  own convention for its own, unvalidated goal-progress rating; not a published norm);
- alliance steady: no unresolved rupture alert, and the latest alliance check at or above the
  clinic's rupture floor.

Drift flags:
- a long episode with no reliable change: DRIFT_SESSIONS or more attended sessions and no outcome
  measure reliably improved (collaborative-care practice reviews a treatment that has not helped
  by 10-12 weeks; Alliance uses 12 sessions);
- sessions beyond the plan with no review: more sessions attended than planned, and no review
  recorded once the plan was reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alliance.measurement import Instrument

GOAL_ATTAINED = 8
DRIFT_SESSIONS = 12


@dataclass(frozen=True)
class Outcome:
    """One outcome measure's complete totals in the episode, oldest first."""

    instrument: Instrument
    name: str
    totals: Sequence[int]


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    met: bool | None  # None: not enough data to say
    detail: str


def _better(instrument: Instrument, intake: int, later: int) -> int:
    return intake - later if instrument.direction == "higher-is-worse" else later - intake


def improvement_held(outcomes: Sequence[Outcome]) -> Indicator:
    label = "Reliable improvement held over the last two measures"
    parts, verdicts = [], []
    for o in outcomes:
        rc = o.instrument.reliable_change
        if rc is None or len(o.totals) < 3:
            continue
        intake, last_two = o.totals[0], o.totals[-2:]
        held = all(_better(o.instrument, intake, t) >= rc.value for t in last_two)
        verdicts.append(held)
        shown = ", ".join(str(t) for t in last_two)
        parts.append(f"{o.name} {intake} at intake, {shown} lately (reliable: {rc.value})")
    if not verdicts:
        return Indicator("held", label, None, "Needs at least three measures of PHQ-9 or GAD-7.")
    return Indicator("held", label, any(verdicts), "; ".join(parts))


def below_cutoff(outcomes: Sequence[Outcome]) -> Indicator:
    label = "Below the clinical cut-off"
    parts, verdicts = [], []
    for o in outcomes:
        cutoff = o.instrument.clinical_cutoff
        if cutoff is None or not o.totals:
            continue
        latest = o.totals[-1]
        verdicts.append(latest < cutoff.value)
        parts.append(f"{o.name} {latest} (cut-off {cutoff.value})")
    if not verdicts:
        return Indicator("cutoff", label, None, "No outcome measure yet.")
    return Indicator("cutoff", label, all(verdicts), "; ".join(parts))


def goals_attained(latest_ratings: Sequence[int | None]) -> Indicator:
    label = f"Goals rated {GOAL_ATTAINED} or more of 10"
    if not latest_ratings:
        return Indicator("goals", label, None, "No goals written yet.")
    rated = [r for r in latest_ratings if r is not None]
    if len(rated) < len(latest_ratings):
        unrated = len(latest_ratings) - len(rated)
        return Indicator("goals", label, None, f"{unrated} goal(s) not rated yet.")
    attained = sum(1 for r in rated if r >= GOAL_ATTAINED)
    shown = ", ".join(map(str, rated))
    detail = f"{attained} of {len(rated)} goals at {GOAL_ATTAINED}+ (latest: {shown})"
    return Indicator("goals", label, attained == len(rated), detail)


def alliance_steady(alliance_totals: Sequence[int], open_rupture: bool, floor: int) -> Indicator:
    label = "Alliance steady"
    if open_rupture:
        return Indicator("alliance", label, False, "A rupture alert is still open.")
    if not alliance_totals:
        return Indicator("alliance", label, None, "No alliance check yet.")
    latest = alliance_totals[-1]
    return Indicator(
        "alliance", label, latest >= floor, f"Latest alliance check {latest}/40 (floor {floor})"
    )


@dataclass(frozen=True)
class Drift:
    key: str
    message: str


def drift_flags(
    outcomes: Sequence[Outcome],
    *,
    attended: int,
    planned: int | None,
    reviewed_at_or_after: int | None,
) -> list[Drift]:
    """`reviewed_at_or_after`: sessions attended at the latest plan review (None: never)."""
    flags = []
    improved = any(
        o.instrument.reliable_change is not None
        and len(o.totals) >= 2
        and _better(o.instrument, o.totals[0], o.totals[-1]) >= o.instrument.reliable_change.value
        for o in outcomes
    )
    if attended >= DRIFT_SESSIONS and not improved:
        flags.append(
            Drift(
                "long",
                f"{attended} sessions attended and no reliable improvement on any outcome "
                f"measure; review the treatment (flagged from {DRIFT_SESSIONS} sessions).",
            )
        )
    unreviewed = reviewed_at_or_after is None or (planned or 0) > reviewed_at_or_after
    if planned is not None and attended > planned and unreviewed:
        flags.append(
            Drift(
                "beyond_plan",
                f"{attended} sessions attended of {planned} planned, and the plan has not "
                "been reviewed since it was reached.",
            )
        )
    return flags
