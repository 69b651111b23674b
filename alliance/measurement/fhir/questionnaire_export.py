"""Instrument -> FHIR R4 Questionnaire (LOINC-coded, weights as ordinalValue)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..catalogue import instrument_to_dict
from ..model import Instrument, Item, ResponseOption
from .common import ALLIANCE_SCORING, LOINC, ORDINAL_VALUE
from .validate import validate_r4

# Keys of instrument_to_dict that map onto standard Questionnaire elements; the rest travel in
# the Alliance scoring extension.
_STANDARD_KEYS = ("title", "version", "url", "panel_loinc", "items")


def questionnaire_from_instrument(instrument: Instrument) -> dict[str, Any]:
    """A FHIR R4 Questionnaire for the instrument, checked against the R4B model before return."""
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": instrument.id,
        "extension": [{"url": ALLIANCE_SCORING, "valueString": _scoring_json(instrument)}],
        "url": instrument.url,
        "version": instrument.version,
        "name": _machine_name(instrument.id),
        "title": instrument.title,
        "status": "active",
        "subjectType": ["Patient"],
        "copyright": "\n\n".join((instrument.licence, *instrument.notices)),
    }
    if instrument.panel_loinc:
        questionnaire["code"] = [_loinc(instrument.panel_loinc, instrument.title)]
    questions = [_item(item) for item in instrument.items]
    if instrument.preamble:
        # The shared stem becomes a group, as most published PHQ/GAD Questionnaires do it.
        questions = [{"linkId": "questions", "type": "group", "text": instrument.preamble,
                      "item": questions}]  # fmt: skip
    questionnaire["item"] = questions
    questionnaire = {key: value for key, value in questionnaire.items() if value is not None}
    validate_r4(questionnaire)
    return questionnaire


def _scoring_json(instrument: Instrument) -> str:
    data = instrument_to_dict(instrument)
    rules = {key: value for key, value in data.items() if key not in _STANDARD_KEYS}
    rules["unscored"] = [item.link_id for item in instrument.items if not item.scored]
    return json.dumps(rules, ensure_ascii=False, sort_keys=True)


def _item(item: Item) -> dict[str, Any]:
    question: dict[str, Any] = {"linkId": item.link_id, "text": item.text, "type": "choice"}
    if item.loinc:
        question["code"] = [_loinc(item.loinc, item.text)]
    question["required"] = item.scored
    question["answerOption"] = [_option(option, item.scored) for option in item.options]
    return question


def _option(option: ResponseOption, weighted: bool) -> dict[str, Any]:
    if option.code is None:
        answer: dict[str, Any] = {"valueInteger": option.score}
    else:
        coding = {"system": option.system, "code": option.code, "display": option.label}
        answer = {"valueCoding": {k: v for k, v in coding.items() if v is not None}}
    if weighted:
        # Unscored items carry no weight so that no consumer adds them into a total.
        answer["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": option.score}]
    return answer


def _loinc(code: str, display: str) -> dict[str, str]:
    return {"system": LOINC, "code": code, "display": display}


def _machine_name(instrument_id: str) -> str:
    # Questionnaire.name should be a computer-friendly name starting with a capital.
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", instrument_id))
