"""FHIR Questionnaire written elsewhere -> Instrument.

This is how a clinic adds a measure whose licence forbids us to ship it: the clinic loads the
Questionnaire, and the weights come from the file itself (ordinalValue / itemWeight extensions on
answer options, or on the concepts of a contained or referenced ValueSet).

Three cases:

1. An Alliance export: the scoring extension restores bands, risk items and policies exactly.
2. A Questionnaire whose scored items carry the same LOINC codes and weights as a shipped
   instrument (the US Core and LHC-Forms PHQ-9s): it is that instrument under other linkIds, so
   the shipped instrument's published bands, risk items and thresholds apply.
3. Anything else: a custom instrument that is summed, with no bands, and no total unless every
   weighted item is answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..catalogue import instrument_from_dict, shipped_instruments
from ..model import Instrument, Item, MissingPolicy, ResponseOption
from .common import (
    ALLIANCE_SCORING,
    CALCULATED_EXPRESSION,
    FhirInputError,
    Json,
    canonical,
    extension_weight,
    integral,
    loinc_codes,
    reading,
    require_resource,
    walk_items,
)

# Asked alongside the PHQ-9 and never part of its total, whatever weights a file gives it.
NEVER_SCORED_LOINC = frozenset({"69722-7"})
ANSWERABLE_TYPES = frozenset({"choice", "open-choice", "integer", "coding"})
NUMERIC_TYPES = frozenset({"integer", "decimal", "quantity"})
IMPORTED_POLICY = MissingPolicy(
    rule="complete-only",
    source="Alliance default for imported instruments: no total unless every weighted item "
    "is answered.",
)


def instrument_from_questionnaire(
    questionnaire: object, value_sets: Mapping[str, Json] | None = None
) -> Instrument:
    """Build an Instrument from a Questionnaire's JSON.

    ``value_sets`` maps canonical URL -> ValueSet JSON for answerValueSets that are referenced
    rather than contained.
    """
    q = require_resource(questionnaire, "Questionnaire")
    with reading("Questionnaire"):
        items, total_item = _read_items(q, value_sets or {})
        if not any(item.scored for item in items):
            raise FhirInputError(
                "no item has weighted answers (ordinalValue/itemWeight); cannot score"
            )
        rules = _alliance_rules(q)
        if rules is not None:
            return _from_alliance_export(q, items, rules)
        preamble = _preamble(q)
        shipped = _equivalent_shipped(items)
        if shipped is not None:
            return _as_shipped(shipped, q, items, total_item, preamble)
        return _custom(q, items, total_item, preamble)


def _read_items(q: Json, value_sets: Mapping[str, Json]) -> tuple[tuple[Item, ...], Json | None]:
    contained = {
        f"#{r['id']}": r
        for r in q.get("contained", [])
        if isinstance(r, Mapping) and r.get("resourceType") == "ValueSet" and "id" in r
    }
    items: list[Item] = []
    total_item: Json | None = None
    for raw in walk_items(q.get("item")):
        kind = raw.get("type")
        has_options = "answerOption" in raw or "answerValueSet" in raw
        if kind in ANSWERABLE_TYPES and has_options:
            items.append(_item(raw, contained, value_sets))
        elif kind in NUMERIC_TYPES and total_item is None and _is_total(raw):
            total_item = raw
    return tuple(items), total_item


def _is_total(raw: Json) -> bool:
    urls = {e.get("url") for e in raw.get("extension", []) if isinstance(e, Mapping)}
    known_totals = {i.total_loinc for i in shipped_instruments() if i.total_loinc}
    return (
        CALCULATED_EXPRESSION in urls
        or bool(raw.get("readOnly"))
        or bool(known_totals & set(loinc_codes(raw.get("code"))))
    )


def _item(raw: Json, contained: Mapping[str, Json], value_sets: Mapping[str, Json]) -> Item:
    link_id = raw.get("linkId")
    if not isinstance(link_id, str):
        raise FhirInputError("an item has no linkId")
    if "answerOption" in raw:
        pairs = [_answer_option(o, link_id) for o in raw["answerOption"]]
    else:
        pairs = _value_set_options(raw["answerValueSet"], contained, value_sets, link_id)
    weighted = [weight is not None for _, weight in pairs]
    if any(weighted) and not all(weighted):
        raise FhirInputError(f"item {link_id}: only some answer options have a weight")
    codes = loinc_codes(raw.get("code"))
    loinc = codes[0] if codes else None
    # Unweighted choices are kept (their answers are shown) but can never enter a total; their
    # stored value is the option's position.
    options = tuple(
        replace(option, score=index if weight is None else weight)
        for index, (option, weight) in enumerate(pairs)
    )
    scored = all(weighted) and loinc not in NEVER_SCORED_LOINC
    return Item(link_id=link_id, text=str(raw.get("text", "")), options=options, loinc=loinc,
                scored=scored)  # fmt: skip


def _answer_option(raw: object, link_id: str) -> tuple[ResponseOption, int | None]:
    if not isinstance(raw, Mapping):
        raise FhirInputError(f"item {link_id}: an answerOption is not a JSON object")
    if "valueInteger" in raw:
        value = integral(raw["valueInteger"], f"item {link_id} answer option")
        return ResponseOption(score=value, label=str(value)), value
    coding = raw.get("valueCoding")
    if isinstance(coding, Mapping):
        weight = extension_weight(raw)
        weight = extension_weight(coding) if weight is None else weight
        return _option_from_coding(coding, link_id), weight
    if "valueString" in raw:
        return ResponseOption(score=0, label=str(raw["valueString"])), extension_weight(raw)
    raise FhirInputError(f"item {link_id}: unsupported answerOption {sorted(raw)}")


def _option_from_coding(coding: Json, link_id: str) -> ResponseOption:
    code = coding.get("code")
    if not isinstance(code, str):
        raise FhirInputError(f"item {link_id}: an answer coding has no code")
    return ResponseOption(
        score=0, label=str(coding.get("display", code)), code=code, system=coding.get("system")
    )


def _value_set_options(
    reference: object, contained: Mapping[str, Json], value_sets: Mapping[str, Json], link_id: str
) -> list[tuple[ResponseOption, int | None]]:
    ref = str(reference)
    value_set = contained.get(ref) or value_sets.get(canonical(ref) or "")
    if value_set is None:
        raise FhirInputError(
            f"item {link_id}: answerValueSet {ref} is neither contained nor supplied"
        )
    expansion = value_set.get("expansion", {}).get("contains")
    if expansion:
        return [(_option_from_coding(c, link_id), extension_weight(c)) for c in expansion]
    pairs: list[tuple[ResponseOption, int | None]] = []
    for include in value_set.get("compose", {}).get("include", []):
        for concept in include.get("concept", []):
            coding = {**concept, "system": include.get("system")}
            pairs.append((_option_from_coding(coding, link_id), extension_weight(concept)))
    if not pairs:
        raise FhirInputError(f"item {link_id}: ValueSet {ref} lists no concepts")
    return pairs


def _alliance_rules(q: Json) -> dict[str, Any] | None:
    for extension in q.get("extension", []):
        if isinstance(extension, Mapping) and extension.get("url") == ALLIANCE_SCORING:
            try:
                rules = json.loads(extension["valueString"])
            except (KeyError, TypeError, ValueError):
                raise FhirInputError("the Alliance scoring extension is not valid JSON") from None
            return dict(rules)
    return None


def _from_alliance_export(q: Json, items: tuple[Item, ...], rules: dict[str, Any]) -> Instrument:
    unscored = set(rules.pop("unscored", []))
    items = tuple(replace(item, scored=item.link_id not in unscored) for item in items)
    codes = loinc_codes(q.get("code"))
    data = {
        **rules,
        "title": q.get("title", rules.get("id", "")),
        "version": q.get("version", ""),
        "url": q.get("url"),
        "panel_loinc": codes[0] if codes else None,
        "items": [],
    }
    return replace(instrument_from_dict(data), items=items)


def _equivalent_shipped(items: tuple[Item, ...]) -> Instrument | None:
    mine = {item.loinc: item.scores for item in items if item.scored}
    if None in mine:
        return None
    for shipped in shipped_instruments():
        theirs = {item.loinc: item.scores for item in shipped.scored_items}
        if theirs == mine:
            return shipped
    return None


def _as_shipped(
    shipped: Instrument, q: Json, items: tuple[Item, ...], total: Json | None, preamble: str
) -> Instrument:
    by_loinc = {item.loinc: item.link_id for item in items}
    risks = tuple(
        replace(risk, link_id=by_loinc[shipped.item(risk.link_id).loinc])
        for risk in shipped.risk_items
    )
    return replace(
        shipped,
        items=items,
        risk_items=risks,
        url=q.get("url"),
        preamble=preamble or shipped.preamble,
        total_link_id=None if total is None else total.get("linkId"),
    )


def _custom(q: Json, items: tuple[Item, ...], total: Json | None, preamble: str) -> Instrument:
    shipped_ids = {i.id for i in shipped_instruments()}
    slug = _slug(q.get("id") or q.get("name") or q.get("url") or q.get("title") or "imported")
    total_codes = loinc_codes(total.get("code")) if total else []
    publisher = q.get("publisher")
    return Instrument(
        id=f"imported-{slug}" if slug in shipped_ids else slug,
        version=str(q.get("version", "unversioned")),
        title=str(q.get("title") or q.get("name") or slug),
        items=items,
        missing_policy=IMPORTED_POLICY,
        licence=str(
            q.get("copyright")
            or "The Questionnaire states no licence; the clinic that imported it is responsible."
        ),
        source=" ".join(str(part) for part in (publisher, q.get("url")) if part) or "unknown",
        validated=None,
        direction="unknown",
        url=q.get("url"),
        preamble=preamble,
        panel_loinc=next(iter(loinc_codes(q.get("code"))), None),
        total_loinc=total_codes[0] if total_codes else None,
        total_link_id=None if total is None else total.get("linkId"),
        scoring_source="Imported Questionnaire: answer weights from the file, summed.",
    )


def _preamble(q: Json) -> str:
    for raw in q.get("item", []):
        if isinstance(raw, Mapping) and raw.get("type") == "group":
            return str(raw.get("text", ""))
    return ""


def _slug(text: str) -> str:
    last = str(text).rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-") or "imported"
