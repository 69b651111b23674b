"""Instrument definitions: reading the JSON data files and writing them back.

One JSON file per instrument lives in ``instruments/``. The file format is the dictionary made by
``instrument_to_dict``; response options shared by every item may be given once at the top level
as ``response_options`` and are copied into each item that does not list its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from functools import cache
from importlib import resources
from typing import Any, cast

from .model import (
    Band,
    Direction,
    Instrument,
    Item,
    MissingPolicy,
    MissingRule,
    ResponseOption,
    RiskItem,
    Threshold,
    UnknownInstrumentError,
)

SHIPPED_IDS = ("phq9", "gad7", "phq2", "gad2", "alliance-session-check", "alliance-goal-progress")


def load_instrument(instrument_id: str) -> Instrument:
    """Return a shipped instrument by id (e.g. ``"phq9"``)."""
    if instrument_id not in SHIPPED_IDS:
        known = ", ".join(SHIPPED_IDS)
        raise UnknownInstrumentError(f"unknown instrument {instrument_id!r} (shipped: {known})")
    return _load_shipped(instrument_id)


def shipped_instruments() -> list[Instrument]:
    return [_load_shipped(instrument_id) for instrument_id in SHIPPED_IDS]


@cache
def _load_shipped(instrument_id: str) -> Instrument:
    # Cached so every caller shares one object, and with it the precomputed scoring plan.
    path = resources.files("alliance.measurement") / "instruments" / f"{instrument_id}.json"
    return instrument_from_dict(json.loads(path.read_text(encoding="utf-8")))


def instrument_from_dict(data: Mapping[str, Any]) -> Instrument:
    shared = data.get("response_options", [])
    items = tuple(_item(raw, shared) for raw in data["items"])
    bands = data.get("bands") or {}
    scoring = data.get("scoring") or {}
    return Instrument(
        id=data["id"],
        version=data["version"],
        title=data["title"],
        items=items,
        missing_policy=_missing_policy(data["missing_items"]),
        licence=data["licence"],
        source=data["source"],
        validated=data.get("validated", True),
        direction=cast(Direction, data.get("direction", "higher-is-worse")),
        url=data.get("url"),
        preamble=data.get("preamble", ""),
        panel_loinc=data.get("panel_loinc"),
        total_loinc=data.get("total_loinc"),
        total_link_id=data.get("total_link_id"),
        scoring_rule=scoring.get("rule", "sum"),
        scoring_source=scoring.get("source", ""),
        bands=tuple(Band(**band) for band in bands.get("bands", [])),
        bands_source=bands.get("source", ""),
        risk_items=tuple(RiskItem(**risk) for risk in data.get("risk_items", [])),
        clinical_cutoff=_threshold(data.get("clinical_cutoff")),
        reliable_change=_threshold(data.get("reliable_change")),
        notices=tuple(data.get("notices", [])),
    )


def instrument_to_dict(instrument: Instrument) -> dict[str, Any]:
    """The JSON form of an instrument; ``instrument_from_dict`` reads it back unchanged."""
    return {
        "id": instrument.id,
        "version": instrument.version,
        "title": instrument.title,
        "validated": instrument.validated,
        "direction": instrument.direction,
        "url": instrument.url,
        "preamble": instrument.preamble,
        "panel_loinc": instrument.panel_loinc,
        "total_loinc": instrument.total_loinc,
        "total_link_id": instrument.total_link_id,
        "source": instrument.source,
        "licence": instrument.licence,
        "notices": list(instrument.notices),
        "items": [_item_to_dict(item) for item in instrument.items],
        "scoring": {"rule": instrument.scoring_rule, "source": instrument.scoring_source},
        "bands": {
            "source": instrument.bands_source,
            "bands": [asdict(band) for band in instrument.bands],
        },
        "risk_items": [asdict(risk) for risk in instrument.risk_items],
        "clinical_cutoff": _threshold_to_dict(instrument.clinical_cutoff),
        "reliable_change": _threshold_to_dict(instrument.reliable_change),
        "missing_items": asdict(instrument.missing_policy),
    }


def _item(raw: Mapping[str, Any], shared: list[Mapping[str, Any]]) -> Item:
    options = raw.get("response_options", shared)
    return Item(
        link_id=raw["link_id"],
        text=raw["text"],
        options=tuple(ResponseOption(**option) for option in options),
        loinc=raw.get("loinc"),
        scored=raw.get("scored", True),
    )


def _item_to_dict(item: Item) -> dict[str, Any]:
    return {
        "link_id": item.link_id,
        "text": item.text,
        "loinc": item.loinc,
        "scored": item.scored,
        "response_options": [asdict(option) for option in item.options],
    }


def _missing_policy(raw: Mapping[str, Any]) -> MissingPolicy:
    return MissingPolicy(
        rule=cast(MissingRule, raw["rule"]),
        source=raw["source"],
        max_missing=raw.get("max_missing", 0),
        note=raw.get("note", ""),
    )


def _threshold(raw: Mapping[str, Any] | None) -> Threshold | None:
    return None if raw is None else Threshold(**raw)


def _threshold_to_dict(threshold: Threshold | None) -> dict[str, Any] | None:
    return None if threshold is None else asdict(threshold)
