"""The alert rules, as pure functions of a client's scores (no Django, no database).

Each rule returns a Signal whose reason states, in numbers, why it fired. The thresholds come
from the instrument definitions (alliance/measurement/instruments/*.json, each citing its source)
or from the clinic's settings; nothing is hard-coded here but the shape of each rule.

- Risk: a risk item of the instrument (PHQ-9 item 9) answered above its threshold; the flag is
  set by the measurement core.
- Reliable deterioration: the latest total is worse than the first total of the episode by at
  least the instrument's reliable-change threshold (PHQ-9: 6, GAD-7: 4; NHS Talking Therapies).
- Not on track (Alliance's rule-based early warning, replaceable by fitted expected-recovery
  bands later): from the clinic's chosen measured session on (default the 4th), the latest total
  is still at or above the caseness cut-off and has not improved on intake by the reliable-change
  threshold. It draws on two published figures (caseness, reliable change) and on the finding
  that early non-response predicts a poor outcome (Lambert et al. 2001, Psychotherapy Research
  11:49-68; Lutz et al. 2006). It does not fire when deterioration already has.
- Not on track, fitted (once the clinic has fitted its own expected-recovery bands with
  `alliance trajectories fit`, see alliance/trajectories): from measured session 2 on, the latest
  total is above the upper edge (by default the 90th percentile) of the scores expected at that
  session of clients of this clinic who started at the same intake score. This is the method of
  Finch, Lambert & Schaalje (2001, Clinical Psychology & Psychotherapy 8:231-242): a growth
  model on log(session) by intake severity; the band replaces the rule-based check above.
- Follow-up check-in (after discharge): the check-in's total is at or above the caseness
  cut-off, or worse than the last total in treatment by at least the reliable-change threshold.
  The same two published figures as above; it replaces the in-treatment rules for check-ins.
- Alliance rupture: an alliance check total below the clinic's floor, or a drop of the clinic's
  chosen size below the client's own average of earlier ratings (at least two). These defaults
  (30 of 40; 5 points) are Alliance's own, not published norms; the clinic tunes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from alliance.measurement import Instrument, ScoreResult

RISK = "risk"
DETERIORATION = "deterioration"
NOT_ON_TRACK = "not_on_track"
RUPTURE = "rupture"
FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Signal:
    kind: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    rupture_floor: int = 30
    rupture_drop: int = 5
    not_on_track_session: int = 4


class ExpectedBands(Protocol):
    """A fitted band table (alliance/trajectories/expected.py), as the rule reads it."""

    @property
    def fitted_on(self) -> Any: ...

    @property
    def episodes(self) -> int: ...

    @property
    def upper_percentile(self) -> int: ...

    def band(self, intake: int, session: int) -> tuple[float, float, float] | None: ...


def risk_signals(instrument: Instrument, result: ScoreResult) -> list[Signal]:
    signals = []
    for risk in instrument.risk_items:
        value = result.items.get(risk.link_id)
        if risk.flag in result.flags and value is not None:
            item = next(i for i in instrument.items if i.link_id == risk.link_id)
            label = next((o.label for o in item.options if o.score == value), str(value))
            reason = (
                f"{short_name(instrument)} {risk.link_id.replace('item', 'item ')} "
                f"(\u201c{item.text}\u201d) answered {value}, \u201c{label}\u201d; "
                f"any answer above {risk.above} needs follow-up"
            )
            facts = {"item": risk.link_id, "value": value, "above": risk.above}
            signals.append(Signal(RISK, reason, facts))
    return signals


def change_signals(
    instrument: Instrument,
    totals: Sequence[int],
    thresholds: Thresholds,
    expected: ExpectedBands | None = None,
) -> list[Signal]:
    """Signals from the episode's complete totals of one outcome measure, oldest first.

    With `expected` (the clinic's fitted bands for this instrument), not on track means above
    the band; without, the rule-based check."""
    rc = instrument.reliable_change
    if rc is None or len(totals) < 2:
        return []
    intake, latest = totals[0], totals[-1]
    worse_by = latest - intake if instrument.direction == "higher-is-worse" else intake - latest
    name = short_name(instrument)
    if worse_by >= rc.value:
        reason = (
            f"{name} went from {intake} at intake to {latest} now ({worse_by:+d}); "
            f"a change of {rc.value} or more is reliable"
        )
        facts = {"intake": intake, "latest": latest, "threshold": rc.value}
        return [Signal(DETERIORATION, reason, facts)]
    session = len(totals)
    if expected is not None:
        return _band_signals(instrument, intake, latest, session, expected)
    cutoff = instrument.clinical_cutoff
    if cutoff is None or session < thresholds.not_on_track_session:
        return []
    improved_by = -worse_by
    if latest >= cutoff.value and improved_by < rc.value:
        reason = (
            f"{name} is {latest} at measured session {session}: still at or above the "
            f"cut-off of {cutoff.value}, and {_movement(improved_by)} since intake ({intake}); "
            f"reliable improvement needs {rc.value} points"
        )
        facts = {
            "intake": intake,
            "latest": latest,
            "session": session,
            "cutoff": cutoff.value,
            "threshold": rc.value,
        }
        return [Signal(NOT_ON_TRACK, reason, facts)]
    return []


def _band_signals(
    instrument: Instrument, intake: int, latest: int, session: int, expected: ExpectedBands
) -> list[Signal]:
    band = expected.band(intake, session)
    if band is None:
        return []
    lower, middle, upper = band
    worse = latest > upper if instrument.direction == "higher-is-worse" else latest < lower
    if not worse:
        return []
    name = short_name(instrument)
    edge = upper if instrument.direction == "higher-is-worse" else lower
    reason = (
        f"{name} is {latest} at measured session {session}: above the range expected for this "
        f"clinic's clients who started at {intake} ({lower:.0f}-{upper:.0f} by session "
        f"{session}, most likely {middle:.0f}); band fitted {expected.fitted_on} from "
        f"{expected.episodes} finished episodes"
    )
    facts = {
        "intake": intake,
        "latest": latest,
        "session": session,
        "expected": round(middle, 2),
        "band_lower": round(lower, 2),
        "band_upper": round(upper, 2),
        "edge": round(edge, 2),
        "percentile": expected.upper_percentile,
        "fitted_on": str(expected.fitted_on),
        "episodes": expected.episodes,
        "method": "fitted",
    }
    return [Signal(NOT_ON_TRACK, reason, facts)]


def follow_up_signals(
    instrument: Instrument, treatment_totals: Sequence[int], latest: int
) -> list[Signal]:
    """A follow-up check-in's total against the cut-off and the last total in treatment."""
    rc, cutoff = instrument.reliable_change, instrument.clinical_cutoff
    name = short_name(instrument)
    reasons = []
    facts: dict[str, Any] = {"latest": latest}
    if cutoff is not None and latest >= cutoff.value:
        reasons.append(f"at or above the cut-off of {cutoff.value}")
        facts["cutoff"] = cutoff.value
    if rc is not None and treatment_totals:
        end = treatment_totals[-1]
        worse_by = latest - end if instrument.direction == "higher-is-worse" else end - latest
        if worse_by >= rc.value:
            reasons.append(
                f"{worse_by} points worse than at the end of treatment ({end}); "
                f"a change of {rc.value} or more is reliable"
            )
            facts.update(end_of_treatment=end, threshold=rc.value)
    if not reasons:
        return []
    reason = f"{name} is {latest} at the follow-up check-in: " + ", and ".join(reasons)
    return [Signal(FOLLOW_UP, reason, facts)]


def rupture_signals(totals: Sequence[int], thresholds: Thresholds) -> list[Signal]:
    """Signals from the episode's alliance check totals (0-40), oldest first."""
    if not totals:
        return []
    latest = totals[-1]
    if latest < thresholds.rupture_floor:
        reason = (
            f"Alliance check {latest}/40, below the clinic's threshold of "
            f"{thresholds.rupture_floor}"
        )
        return [Signal(RUPTURE, reason, {"latest": latest, "floor": thresholds.rupture_floor})]
    earlier = totals[:-1]
    if len(earlier) >= 2:
        average = sum(earlier) / len(earlier)
        drop = average - latest
        if drop >= thresholds.rupture_drop:
            reason = (
                f"Alliance check {latest}/40, {drop:.1f} points below this client's average of "
                f"{average:.1f} over {len(earlier)} earlier sessions"
            )
            facts = {
                "latest": latest,
                "average": round(average, 2),
                "drop": round(drop, 2),
                "threshold": thresholds.rupture_drop,
            }
            return [Signal(RUPTURE, reason, facts)]
    return []


def _movement(improved_by: int) -> str:
    if improved_by > 0:
        return f"down only {improved_by}"
    if improved_by == 0:
        return "unchanged"
    return f"up {-improved_by}"


def short_name(instrument: Instrument) -> str:
    """'Patient Health Questionnaire-9 (PHQ-9)' -> 'PHQ-9'; 'Alliance session check (not a
    validated instrument)' -> 'Alliance session check'."""
    title = instrument.title
    if title.endswith(")") and "(" in title:
        inside = title[title.rindex("(") + 1 : -1]
        if re.fullmatch(r"[A-Z0-9][A-Z0-9-]*", inside):
            return inside
        return title[: title.rindex("(")].strip()
    return title
