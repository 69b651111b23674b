"""Scoring a QuestionnaireResponse written by another system.

Each answered item is matched to an instrument item by its linkId, or by a LOINC code carried in
the linkId or ``definition`` (US Core and LHC-Forms use linkIds such as "/44250-9"). The answer's
value comes from its coding (LOINC answer code, with or without a system) or from an integer.
A total stored in the response is a claim: we report whether it agrees with the items and never
use it as the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..catalogue import shipped_instruments
from ..model import (
    AnswerOutOfRangeError,
    Instrument,
    Item,
    ScoreResult,
    UnknownInstrumentError,
)
from ..scoring import score
from .common import (
    FhirInputError,
    Json,
    canonical,
    integral,
    reading,
    require_resource,
    tail,
    walk_items,
)

StoredTotal = int | float | str


@dataclass(frozen=True)
class ResponseScore:
    instrument: Instrument
    result: ScoreResult
    stored_total: StoredTotal | None
    stored_total_matches: bool | None
    identified_by: str
    unmatched_link_ids: list[str] = field(default_factory=list)
    response_id: str | None = None


def score_questionnaire_response(
    qr_json: object,
    instrument: Instrument | None = None,
    *,
    candidates: Sequence[Instrument] | None = None,
) -> ResponseScore:
    """Score a QuestionnaireResponse's JSON.

    Without ``instrument`` the response is matched to one of ``candidates`` (default: the shipped
    instruments), first by its ``questionnaire`` URL and then by the LOINC codes of its items.
    """
    qr = require_resource(qr_json, "QuestionnaireResponse")
    with reading("QuestionnaireResponse"):
        entries = list(walk_items(qr.get("item")))
        identified_by = "given"
        if instrument is None:
            instrument, identified_by = identify(qr, entries, candidates or shipped_instruments())
        answers, stored, unmatched = _collect(instrument, entries)
    result = score(instrument, answers)
    return ResponseScore(
        instrument=instrument,
        result=result,
        stored_total=stored,
        stored_total_matches=stored_total_matches(stored, result.total),
        identified_by=identified_by,
        unmatched_link_ids=unmatched,
        response_id=qr.get("id"),
    )


def stored_total_matches(stored: StoredTotal | None, total: int | None) -> bool | None:
    """None when nothing was stored; False when we have no total to agree with."""
    if stored is None:
        return None
    return total is not None and not isinstance(stored, str) and stored == total


def parse_stored_total(raw: object) -> StoredTotal | None:
    """A stored total as a number when it reads as one (``"12"`` -> 12), else as given."""
    if raw is None or isinstance(raw, bool):
        return None if raw is None else str(raw)
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return str(raw)
    if not number.is_finite():
        return str(raw)
    return int(number) if number == number.to_integral_value() else float(number)


def identify(
    qr: Json, entries: Sequence[Json], candidates: Sequence[Instrument]
) -> tuple[Instrument, str]:
    url = canonical(qr.get("questionnaire"))
    for candidate in candidates:
        if url and (url == canonical(candidate.url) or tail(url) == candidate.panel_loinc):
            return candidate, "questionnaire"
    codes = {
        tail(str(e.get(key))) for e in entries for key in ("linkId", "definition") if e.get(key)
    }

    def evidence(candidate: Instrument) -> tuple[int, bool, int]:
        matched = sum(1 for item in candidate.scored_items if item.loinc in codes)
        named = bool({candidate.panel_loinc, candidate.total_loinc} & codes - {None})
        # Most items matched first; then a panel or total code; then the smallest instrument, so
        # that a response holding only PHQ-9 items 1-2 (and no PHQ-9 total) reads as a PHQ-2.
        return matched, named, -len(candidate.scored_items)

    best = max(candidates, key=evidence)
    if evidence(best)[0] == 0:
        raise UnknownInstrumentError(
            f"unknown instrument: questionnaire {url or '(none)'} is not known and no answered "
            "item carries a known LOINC code (use --questionnaire)"
        )
    return best, "loinc"


def _collect(
    instrument: Instrument, entries: Sequence[Json]
) -> tuple[dict[str, int | None], StoredTotal | None, list[str]]:
    by_link = {item.link_id: item for item in instrument.items}
    by_loinc = {item.loinc: item for item in instrument.items if item.loinc}
    total_keys = {instrument.total_link_id, instrument.total_loinc} - {None}
    answers: dict[str, int | None] = {}
    stored: StoredTotal | None = None
    unmatched: list[str] = []
    for entry in entries:
        link_id = entry.get("linkId")
        if not isinstance(link_id, str):
            raise FhirInputError("an item has no linkId")
        raw_answers = entry.get("answer", []) or []
        if not isinstance(raw_answers, list) or not all(
            isinstance(a, Mapping) for a in raw_answers
        ):
            # A malformed answer must never pass for an unanswered question (item 9!).
            raise FhirInputError(f"item {link_id[:60]}: answer must be a list of answer objects")
        given = list(raw_answers)
        if link_id in total_keys or tail(link_id) in total_keys:
            stored = parse_stored_total(_raw_value(given[0])) if given else None
            continue
        target = by_link.get(link_id) or by_loinc.get(tail(link_id))
        if target is None and entry.get("definition"):
            target = by_loinc.get(tail(str(entry["definition"])))
        if target is None:
            if given:
                unmatched.append(link_id)
            continue
        if not given:
            continue
        if target.link_id in answers:
            raise FhirInputError(f"item {target.link_id} is answered more than once ({link_id})")
        if len(given) > 1:
            raise FhirInputError(f"item {link_id} has {len(given)} answers; one was expected")
        answers[target.link_id] = answer_score(instrument, target, given[0], link_id)
    return answers, stored, unmatched


def answer_score(instrument: Instrument, item: Item, answer: Json, link_id: str) -> int:
    """The score of one answer: a coding matched to a response option, or an integer."""
    where = f"{instrument.id} {item.link_id} (linkId {link_id})"
    coding = answer.get("valueCoding")
    if isinstance(coding, Mapping):
        return _coded(item, coding, where)
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            value = integral(answer[key], f"{where}: answer {answer[key]!r}")
            if value not in item.scores:
                allowed = ", ".join(str(s) for s in sorted(item.scores))
                raise AnswerOutOfRangeError(f"{where}: answer {value} is not one of {allowed}")
            return value
    kinds = ", ".join(sorted(key for key in answer if key.startswith("value"))) or "none"
    raise FhirInputError(f"{where}: unsupported answer type ({kinds})")


def _coded(item: Item, coding: Json, where: str) -> int:
    code, system = coding.get("code"), coding.get("system")
    # A coding without a system is matched on its code alone; a system, when given, must agree.
    found = [
        option
        for option in item.options
        if option.code == code and (system is None or option.system in (None, system))
    ]
    if len(found) != 1:
        shown = f"{system}|{code}" if system else str(code)
        raise AnswerOutOfRangeError(f"{where}: answer code {shown} is not one of its options")
    return found[0].score


def _raw_value(answer: Json) -> object:
    for key in ("valueDecimal", "valueInteger", "valueString"):
        if key in answer:
            return answer[key]
    quantity = answer.get("valueQuantity")
    return quantity.get("value") if isinstance(quantity, Mapping) else None
