"""The shapes of instruments and scores.

Instruments are plain frozen data so that two definitions can be compared with ``==`` (an
exported-then-imported FHIR Questionnaire must come back equal) and so nothing can change a
definition while it is being used to score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Direction = Literal["higher-is-worse", "higher-is-better", "unknown"]
MissingRule = Literal["complete-only", "prorate"]

LOINC_SYSTEM = "http://loinc.org"


class MeasurementError(ValueError):
    """Input that cannot be scored. The message is written for the person who sent it."""


class UnknownInstrumentError(MeasurementError):
    """No instrument matches the id, questionnaire or codes given."""


class UnknownItemError(MeasurementError):
    """An answer names an item the instrument does not have."""


class AnswerOutOfRangeError(MeasurementError):
    """An answer is not one of the item's response options."""


@dataclass(frozen=True)
class ResponseOption:
    score: int
    label: str
    code: str | None = None
    system: str | None = None


@dataclass(frozen=True)
class Item:
    link_id: str
    text: str
    options: tuple[ResponseOption, ...]
    loinc: str | None = None
    # Unscored items (PHQ-9's "how difficult" question) are asked and kept but never summed.
    scored: bool = True

    @property
    def scores(self) -> frozenset[int]:
        return frozenset(option.score for option in self.options)


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    code: str
    label: str


@dataclass(frozen=True)
class RiskItem:
    """Raise ``flag`` when the item's value is greater than ``above``."""

    link_id: str
    above: int
    flag: str
    reason: str
    source: str


@dataclass(frozen=True)
class Threshold:
    value: int
    source: str
    note: str = ""


@dataclass(frozen=True)
class MissingPolicy:
    """What to do when scored items are unanswered.

    ``complete-only``: no total unless every scored item is answered.
    ``prorate``: with at most ``max_missing`` items unanswered, the total is the mean of the
    answered items times the number of scored items, rounded half up.
    """

    rule: MissingRule
    source: str
    max_missing: int = 0
    note: str = ""


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    title: str
    items: tuple[Item, ...]
    missing_policy: MissingPolicy
    licence: str
    source: str
    validated: bool | None = True
    direction: Direction = "higher-is-worse"
    url: str | None = None
    preamble: str = ""
    panel_loinc: str | None = None
    total_loinc: str | None = None
    # Only for Questionnaires written elsewhere that carry their own total item.
    total_link_id: str | None = None
    scoring_rule: Literal["sum"] = "sum"
    scoring_source: str = ""
    bands: tuple[Band, ...] = ()
    bands_source: str = ""
    risk_items: tuple[RiskItem, ...] = ()
    clinical_cutoff: Threshold | None = None
    reliable_change: Threshold | None = None
    notices: tuple[str, ...] = ()

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)

    @property
    def min_total(self) -> int:
        return sum(min(item.scores) for item in self.scored_items)

    @property
    def max_total(self) -> int:
        return sum(max(item.scores) for item in self.scored_items)

    def item(self, link_id: str) -> Item:
        for item in self.items:
            if item.link_id == link_id:
                return item
        raise UnknownItemError(f"{self.id} has no item {link_id!r}")

    def band_for(self, total: int) -> Band | None:
        return self._plan.band_by_total.get(total)

    @cached_property
    def _plan(self) -> ScoringPlan:
        # Scoring runs on every submission and in bulk reports, so the lookups it needs are
        # built once per instrument object. cached_property writes to the instance dict,
        # which a frozen dataclass allows, and is not a field, so ``==`` ignores it.
        return ScoringPlan.build(self)


@dataclass(frozen=True)
class ScoringPlan:
    scored: tuple[tuple[str, frozenset[int]], ...]
    unscored: tuple[tuple[str, frozenset[int]], ...]
    known: frozenset[str]
    band_by_total: dict[int, Band]

    @staticmethod
    def build(instrument: Instrument) -> ScoringPlan:
        band_by_total = {
            total: band for band in instrument.bands for total in range(band.min, band.max + 1)
        }
        return ScoringPlan(
            scored=tuple((i.link_id, i.scores) for i in instrument.items if i.scored),
            unscored=tuple((i.link_id, i.scores) for i in instrument.items if not i.scored),
            known=frozenset(i.link_id for i in instrument.items),
            band_by_total=band_by_total,
        )


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made building
# the result a third of the cost of scoring. Treat it as a value all the same.
@dataclass(slots=True)
class ScoreResult:
    instrument_id: str
    instrument_version: str
    total: int | None
    band: str | None
    band_code: str | None
    complete: bool
    incomplete_reason: str | None
    items: dict[str, int | None]
    flags: list[str] = field(default_factory=list)
    unscored_items: dict[str, int | None] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    prorated: bool = False
