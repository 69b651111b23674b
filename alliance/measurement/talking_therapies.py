"""NHS Talking Therapies outcome classes for a first/last pair of scores.

Source: NHS England, NHS Talking Therapies for anxiety and depression Manual, and the NHS Talking
Therapies (formerly IAPT) data handbook. The thresholds are read from the instrument data files
(PHQ-9: caseness 10 or more, reliable change 6 or more; GAD-7: caseness 8 or more, reliable change
4 or more), which cite the same source.

Definitions implemented (higher scores are worse on both measures):

- caseness: score at or above the instrument's caseness threshold;
- recovery: a case at the first score and not a case at the last. For clients who were not a
  case at the first score, recovery does not apply (``None``), matching the national recovery
  rate, which leaves them out of the denominator;
- reliable improvement: the score fell by at least the reliable-change threshold;
- reliable deterioration: the score rose by at least the reliable-change threshold;
- reliable recovery: recovery together with reliable improvement;
- no reliable change: neither reliable improvement nor reliable deterioration.

For the PHQ-9 with GAD-7 pair (``paired_outcome``):

- a case at either time point means a case on at least one of the two measures;
- recovery: a case on at least one measure at the first score and a case on neither at the last;
- reliable deterioration: at least one measure deteriorated reliably;
- reliable improvement: at least one measure improved reliably and neither deteriorated reliably.

Reading chosen where the national wording leaves room: when one measure improves reliably and the
other deteriorates reliably, the pair is classed as reliable deterioration and not as
improvement. A worsening that the measure can detect is not cancelled by a gain elsewhere, and the
deterioration is what a clinician must see. The classes are therefore mutually exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .catalogue import load_instrument
from .model import Instrument, MeasurementError

ChangeClass = Literal["reliable_improvement", "reliable_deterioration", "no_reliable_change"]


@dataclass(frozen=True)
class MeasureOutcome:
    instrument_id: str
    first: int
    last: int
    caseness_threshold: int
    reliable_change_threshold: int
    case_at_first: bool
    case_at_last: bool
    reliable_improvement: bool
    reliable_deterioration: bool
    recovered: bool | None
    reliable_recovery: bool | None

    @property
    def change(self) -> int:
        return self.last - self.first

    @property
    def no_reliable_change(self) -> bool:
        return not (self.reliable_improvement or self.reliable_deterioration)

    @property
    def change_class(self) -> ChangeClass:
        return _change_class(self.reliable_improvement, self.reliable_deterioration)


@dataclass(frozen=True)
class PairedOutcome:
    phq9: MeasureOutcome
    gad7: MeasureOutcome
    case_at_first: bool
    case_at_last: bool
    reliable_improvement: bool
    reliable_deterioration: bool
    recovered: bool | None
    reliable_recovery: bool | None

    @property
    def no_reliable_change(self) -> bool:
        return not (self.reliable_improvement or self.reliable_deterioration)

    @property
    def change_class(self) -> ChangeClass:
        return _change_class(self.reliable_improvement, self.reliable_deterioration)


def talking_therapies_outcome(
    first: int, last: int, instrument: Instrument | str = "phq9"
) -> MeasureOutcome:
    """Outcome classes for one measure scored at the start and at the end of an episode."""
    measure = load_instrument(instrument) if isinstance(instrument, str) else instrument
    if measure.clinical_cutoff is None or measure.reliable_change is None:
        raise MeasurementError(
            f"{measure.id} has no caseness or reliable-change threshold; "
            "Talking Therapies outcomes are defined for PHQ-9 and GAD-7"
        )
    for score in (first, last):
        if type(score) is not int or not measure.min_total <= score <= measure.max_total:
            raise MeasurementError(
                f"{measure.id} total {score!r} is outside {measure.min_total}-{measure.max_total}"
            )
    caseness = measure.clinical_cutoff.value
    threshold = measure.reliable_change.value
    case_at_first = first >= caseness
    case_at_last = last >= caseness
    improved = first - last >= threshold
    recovered = (not case_at_last) if case_at_first else None
    return MeasureOutcome(
        instrument_id=measure.id,
        first=first,
        last=last,
        caseness_threshold=caseness,
        reliable_change_threshold=threshold,
        case_at_first=case_at_first,
        case_at_last=case_at_last,
        reliable_improvement=improved,
        reliable_deterioration=last - first >= threshold,
        recovered=recovered,
        reliable_recovery=None if recovered is None else recovered and improved,
    )


def paired_outcome(
    phq9_first: int, phq9_last: int, gad7_first: int, gad7_last: int
) -> PairedOutcome:
    """Outcome classes for PHQ-9 and GAD-7 taken together (see the module notes)."""
    phq9 = talking_therapies_outcome(phq9_first, phq9_last, "phq9")
    gad7 = talking_therapies_outcome(gad7_first, gad7_last, "gad7")
    case_at_first = phq9.case_at_first or gad7.case_at_first
    case_at_last = phq9.case_at_last or gad7.case_at_last
    deteriorated = phq9.reliable_deterioration or gad7.reliable_deterioration
    improved = (phq9.reliable_improvement or gad7.reliable_improvement) and not deteriorated
    recovered = (not case_at_last) if case_at_first else None
    return PairedOutcome(
        phq9=phq9,
        gad7=gad7,
        case_at_first=case_at_first,
        case_at_last=case_at_last,
        reliable_improvement=improved,
        reliable_deterioration=deteriorated,
        recovered=recovered,
        reliable_recovery=None if recovered is None else recovered and improved,
    )


def _change_class(improved: bool, deteriorated: bool) -> ChangeClass:
    if deteriorated:
        return "reliable_deterioration"
    if improved:
        return "reliable_improvement"
    return "no_reliable_change"
