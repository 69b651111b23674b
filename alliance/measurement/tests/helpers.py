"""Builders for QuestionnaireResponses in the styles other systems write them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alliance.measurement import Instrument

# The external fixtures live beside the repository, in ../shared/fixtures/fhir.
FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "fhir"

SOURCES = {
    "phq9": "Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-613",
    "gad7": "Spitzer, Kroenke, Williams & Lowe 2006, Arch Intern Med 166:1092-1097",
    "phq2": "Kroenke, Spitzer & Williams 2003, Med Care 41:1284-1292",
    "gad2": "Kroenke et al. 2007, Ann Intern Med 146:317-325",
    "tt": "NHS Talking Therapies for anxiety and depression Manual; NHS Talking Therapies data "
    "handbook",
    "jt": "Jacobson & Truax 1991, J Consult Clin Psychol 59:12-19",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def answer_for(instrument: Instrument, link_id: str, value: int, style: str) -> dict[str, Any]:
    """One FHIR answer for ``value`` in a given style."""
    if style == "integer":
        return {"valueInteger": value}
    if style == "decimal":
        return {"valueDecimal": float(value)}
    option = next(o for o in instrument.item(link_id).options if o.score == value)
    coding: dict[str, Any] = {"code": option.code, "display": option.label}
    if style == "coding":
        coding["system"] = option.system
    return {"valueCoding": coding}


def response(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    *,
    style: str = "coding",
    link: str = "loinc",
    nested: bool = False,
    questionnaire: str | None = None,
    stored_total: object = None,
) -> dict[str, Any]:
    """A QuestionnaireResponse for ``answers``.

    style: "coding" (LOINC answer codes), "nosystem" (codes without a system), "integer" or
    "decimal". link: "loinc" ("/44250-9" as US Core does), "plain" (the instrument's link ids) or
    "definition" (opaque linkIds, LOINC code in ``definition``).
    nested: put every question inside a group, and the last one under the previous answer.
    """
    items: list[dict[str, Any]] = []
    for index, (link_id, value) in enumerate(answers.items()):
        item_def = instrument.item(link_id)
        entry: dict[str, Any] = {"linkId": link_id}
        if link == "loinc" and item_def.loinc:
            entry["linkId"] = f"/{item_def.loinc}"
        elif link == "definition" and item_def.loinc:
            entry = {"linkId": f"q{index}", "definition": f"http://loinc.org/{item_def.loinc}"}
        if value is not None:
            entry["answer"] = [answer_for(instrument, link_id, value, style)]
        items.append(entry)
    if nested and len(items) > 1 and "answer" in items[-2]:
        items[-2]["answer"][0]["item"] = [items.pop()]
    if stored_total is not None and instrument.total_loinc:
        value_key = "valueString" if isinstance(stored_total, str) else "valueDecimal"
        items.append(
            {"linkId": f"/{instrument.total_loinc}", "answer": [{value_key: stored_total}]}
        )
    if nested:
        items = [{"linkId": "group", "text": "stem", "item": items}]
    qr: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "status": "completed"}
    if questionnaire:
        qr["questionnaire"] = questionnaire
    qr["item"] = items
    return qr
