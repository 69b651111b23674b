"""Scoring one set of answers: total, band, item values, risk flags and completeness.

The rules here are generic; every clinical number (bands, risk items, the missing-item policy)
comes from the instrument's data file, which names its published source.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from .model import (
    AnswerOutOfRangeError,
    Instrument,
    ScoreResult,
    UnknownItemError,
)


def score(instrument: Instrument, answers: Mapping[str, int | None]) -> ScoreResult:
    """Score answers keyed by item link id; ``None`` (or an absent key) means unanswered.

    Raises ``UnknownItemError`` for a key the instrument does not have and
    ``AnswerOutOfRangeError`` for a value that is not one of the item's response scores.
    A missing answer never counts as zero: the missing-item policy decides whether a total exists.
    """
    plan = instrument._plan
    unknown = answers.keys() - plan.known
    if unknown:
        raise UnknownItemError(f"{instrument.id} has no item(s) {', '.join(sorted(unknown))}")
    items: dict[str, int | None] = {}
    missing: list[str] = []
    subtotal = 0
    for link_id, valid in plan.scored:
        value = _checked(instrument, link_id, valid, answers.get(link_id))
        items[link_id] = value
        if value is None:
            missing.append(link_id)
        else:
            subtotal += value
    unscored = {
        link_id: _checked(instrument, link_id, valid, answers.get(link_id))
        for link_id, valid in plan.unscored
    }
    total, reason, prorated = _apply_missing_policy(instrument, subtotal, missing, len(items))
    band = None if total is None else plan.band_by_total.get(total)
    return ScoreResult(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        total=total,
        band=None if band is None else band.label,
        band_code=None if band is None else band.code,
        complete=not missing,
        incomplete_reason=reason,
        items=items,
        flags=_risk_flags(instrument, items),
        unscored_items=unscored,
        missing=missing,
        prorated=prorated,
    )


def _checked(
    instrument: Instrument, link_id: str, valid: frozenset[int], value: int | None
) -> int | None:
    # bool is an int subclass; True must not pass as the score 1.
    if value is None or (type(value) is int and value in valid):
        return value
    allowed = ", ".join(str(score) for score in sorted(valid))
    raise AnswerOutOfRangeError(
        f"{instrument.id} {link_id}: answer {value!r} is not one of {allowed}"
    )


def _apply_missing_policy(
    instrument: Instrument, subtotal: int, missing: list[str], n_scored: int
) -> tuple[int | None, str | None, bool]:
    if not missing:
        return subtotal, None, False
    policy = instrument.missing_policy
    answered = n_scored - len(missing)
    if policy.rule == "prorate" and len(missing) <= policy.max_missing and answered > 0:
        # Decimal arithmetic so that x.5 always rounds up (float rounding is banker's rounding).
        scaled = Decimal(subtotal) * n_scored / answered
        return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)), None, True
    names = ", ".join(missing)
    reason = (
        f"{len(missing)} of {n_scored} scored items unanswered ({names}); "
        f"missing-item policy: {_describe(instrument)}"
    )
    return None, reason, False


def _describe(instrument: Instrument) -> str:
    policy = instrument.missing_policy
    if policy.rule == "prorate":
        return f"prorate when at most {policy.max_missing} item(s) are missing"
    return "no total unless every scored item is answered"


def _risk_flags(instrument: Instrument, items: Mapping[str, int | None]) -> list[str]:
    flags: list[str] = []
    for risk in instrument.risk_items:
        value = items.get(risk.link_id)
        if value is None:
            # An unanswered risk question is not a reassuring answer; say so rather than stay quiet.
            flags.append(f"risk-unanswered:{risk.flag.removeprefix('risk:')}")
        elif value > risk.above:
            flags.append(risk.flag)
    return flags
