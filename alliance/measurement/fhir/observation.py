"""ScoreResult -> FHIR R4 Observations (the total, and each item on request)."""

from __future__ import annotations

from typing import Any

from ..model import Instrument, Item, ScoreResult
from .common import ALLIANCE_CODES, LOINC
from .validate import validate_r4

SURVEY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def observation_for_total(
    result: ScoreResult,
    instrument: Instrument,
    *,
    subject: str | None = None,
    effective: str | None = None,
    derived_from: str | None = None,
) -> dict[str, Any]:
    """An Observation of the total, validated against R4B before it is returned.

    An incomplete result gives an Observation with a dataAbsentReason and the reason in a note,
    never a value of zero.
    """
    name = f"{instrument.title} total score"
    if instrument.total_loinc:
        code = {"system": LOINC, "code": instrument.total_loinc, "display": name}
    else:
        code = {"system": ALLIANCE_CODES, "code": f"{instrument.id}/total", "display": name}
    observation = _base({"coding": [code], "text": name}, subject, effective, derived_from)
    if result.total is None:
        observation["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}
        observation["note"] = [{"text": result.incomplete_reason or "no total"}]
    else:
        observation["valueInteger"] = result.total
    if result.band is not None:
        observation["interpretation"] = [{"text": result.band}]
    validate_r4(observation)
    return observation


def observations_for_items(
    result: ScoreResult,
    instrument: Instrument,
    *,
    subject: str | None = None,
    effective: str | None = None,
    derived_from: str | None = None,
) -> list[dict[str, Any]]:
    """One Observation per answered item, coded as the answer option when it has a code."""
    values = {**result.items, **result.unscored_items}
    observations = []
    for item in instrument.items:
        value = values.get(item.link_id)
        if value is None:
            continue
        observation = _base(_item_code(instrument, item), subject, effective, derived_from)
        option = next(o for o in item.options if o.score == value)
        if option.code is None:
            observation["valueInteger"] = value
        else:
            coding = {"system": option.system, "code": option.code, "display": option.label}
            coding = {key: val for key, val in coding.items() if val is not None}
            observation["valueCodeableConcept"] = {"coding": [coding], "text": option.label}
        validate_r4(observation)
        observations.append(observation)
    return observations


def _item_code(instrument: Instrument, item: Item) -> dict[str, Any]:
    if item.loinc:
        coding = {"system": LOINC, "code": item.loinc, "display": item.text}
    else:
        coding = {"system": ALLIANCE_CODES, "code": f"{instrument.id}/{item.link_id}",
                  "display": item.text}  # fmt: skip
    return {"coding": [coding], "text": item.text}


def _base(
    code: dict[str, Any], subject: str | None, effective: str | None, derived_from: str | None
) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [SURVEY],
        "code": code,
    }
    if subject:
        observation["subject"] = {"reference": subject}
    if effective:
        observation["effectiveDateTime"] = effective
    if derived_from:
        observation["derivedFrom"] = [{"reference": derived_from}]
    return observation
