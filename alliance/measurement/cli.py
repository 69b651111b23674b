"""``alliance score FILE...``: score FHIR files and print one JSON object per file.

Imports nothing from Django: the ``alliance`` console script hands ``score`` to ``main`` before
Django starts, so scoring works on a machine with no settings or database.

Files are read as a batch. Questionnaires in the batch are imported and used for responses that
name them; an Observation holding a total is checked against the QuestionnaireResponse it was
derived from when that response is in the batch too. A bad file gets one line on stderr
(``alliance score: FILE: problem``), the rest are still scored, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .catalogue import shipped_instruments
from .fhir import (
    observation_for_total,
    observations_for_items,
    score_questionnaire_response,
)
from .fhir.common import FhirInputError, Json, loinc_codes, reading, require_resource, tail
from .fhir.questionnaire_import import instrument_from_questionnaire
from .fhir.response import ResponseScore, parse_stored_total, stored_total_matches
from .model import Instrument, MeasurementError, UnknownInstrumentError

PROG = "alliance score"
EXIT_BAD_INPUT = 2


class _Unusable(Exception):
    """An option file is bad; the problem has already been reported."""


@dataclass(frozen=True)
class Loaded:
    path: str
    resource: Json


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        # argparse has already printed its usage message; it exits 2 on errors, 0 for --help.
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    return Run(args, sys.stdout, sys.stderr).execute()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score FHIR QuestionnaireResponses (and check stored totals) offline.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="FHIR JSON files")
    parser.add_argument(
        "--questionnaire",
        metavar="Q.json",
        help="score every file against this imported FHIR Questionnaire",
    )
    parser.add_argument(
        "--valueset",
        metavar="VS.json",
        action="append",
        default=[],
        help="a ValueSet that the questionnaire references by URL (repeatable)",
    )
    parser.add_argument(
        "--observations", action="store_true", help="include the FHIR Observation of the total"
    )
    parser.add_argument(
        "--items",
        action="store_true",
        help="include FHIR Observations of the total and of every answered item",
    )
    return parser


class Run:
    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.bad = False
        self.scores: dict[str, ResponseScore | None] = {}

    def execute(self) -> int:
        try:
            forced = self._forced_instrument()
        except _Unusable:
            # Nothing can be scored against a questionnaire we could not read.
            return EXIT_BAD_INPUT
        loaded = [item for item in map(self._read, self.args.files) if item is not None]
        candidates = self._batch_questionnaires(loaded) + shipped_instruments()
        responses = {
            f"QuestionnaireResponse/{x.resource['id']}": x
            for x in loaded
            if x.resource.get("resourceType") == "QuestionnaireResponse" and "id" in x.resource
        }
        for item in loaded:
            try:
                with reading("FHIR"):
                    line = self._describe(item, forced, candidates, responses)
            except MeasurementError as error:
                self._fail(item.path, str(error))
                continue
            self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return EXIT_BAD_INPUT if self.bad else 0

    def _forced_instrument(self) -> Instrument | None:
        if not self.args.questionnaire:
            return None
        value_sets: dict[str, Json] = {}
        for path in self.args.valueset:
            loaded = self._read(path)
            if loaded is None:
                raise _Unusable
            if loaded.resource.get("resourceType") != "ValueSet" or "url" not in loaded.resource:
                self._fail(path, "not a FHIR ValueSet with a url")
                raise _Unusable
            value_sets[str(loaded.resource["url"])] = loaded.resource
        questionnaire = self._read(self.args.questionnaire)
        if questionnaire is None:
            raise _Unusable
        try:
            return instrument_from_questionnaire(questionnaire.resource, value_sets)
        except MeasurementError as error:
            self._fail(questionnaire.path, str(error))
            raise _Unusable from error

    def _read(self, path: str) -> Loaded | None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self._fail(path, f"cannot read file ({error.__class__.__name__})")
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            self._fail(path, f"not valid JSON (line {error.lineno}, column {error.colno})")
            return None
        try:
            return Loaded(path, require_resource(data))
        except FhirInputError as error:
            self._fail(path, str(error))
            return None

    def _batch_questionnaires(self, loaded: Sequence[Loaded]) -> list[Instrument]:
        imported = []
        for item in loaded:
            if item.resource.get("resourceType") == "Questionnaire":
                try:
                    imported.append(instrument_from_questionnaire(item.resource))
                except MeasurementError:
                    continue  # reported when the file's own line is produced
        return imported

    def _describe(
        self,
        item: Loaded,
        forced: Instrument | None,
        candidates: list[Instrument],
        responses: Mapping[str, Loaded],
    ) -> dict[str, Any]:
        kind = item.resource["resourceType"]
        if kind == "QuestionnaireResponse":
            return self._response_line(item.path, self._score(item, forced, candidates))
        if kind == "Observation":
            return self._observation_line(item, forced, candidates, responses)
        if kind == "Questionnaire":
            return self._questionnaire_line(item)
        raise FhirInputError(
            f"resourceType {kind} cannot be scored "
            "(expected QuestionnaireResponse, Observation or Questionnaire)"
        )

    def _score(
        self, item: Loaded, forced: Instrument | None, candidates: list[Instrument]
    ) -> ResponseScore:
        return score_questionnaire_response(item.resource, forced, candidates=candidates)

    def _response_line(self, path: str, scored: ResponseScore) -> dict[str, Any]:
        result = scored.result
        line: dict[str, Any] = {
            "file": path,
            "resource_type": "QuestionnaireResponse",
            "instrument": result.instrument_id,
            "instrument_version": result.instrument_version,
            "identified_by": scored.identified_by,
            "total": result.total,
            "band": result.band,
            "band_code": result.band_code,
            "complete": result.complete,
            "incomplete_reason": result.incomplete_reason,
            "flags": result.flags,
            "items": result.items,
            "unscored_items": result.unscored_items,
            "unmatched_items": scored.unmatched_link_ids,
            "stored_total": scored.stored_total,
            "stored_total_matches": scored.stored_total_matches,
        }
        if self.args.observations or self.args.items:
            derived = f"QuestionnaireResponse/{scored.response_id}" if scored.response_id else None
            observations = [observation_for_total(result, scored.instrument, derived_from=derived)]
            if self.args.items:
                observations += observations_for_items(
                    result, scored.instrument, derived_from=derived
                )
            line["observations"] = observations
        return line

    def _observation_line(
        self,
        item: Loaded,
        forced: Instrument | None,
        candidates: list[Instrument],
        responses: Mapping[str, Loaded],
    ) -> dict[str, Any]:
        observation = item.resource
        codes = set(loinc_codes(observation.get("code", {}).get("coding")))
        pool = [forced] if forced else candidates
        instrument = next((i for i in pool if i.total_loinc and i.total_loinc in codes), None)
        if instrument is None:
            raise UnknownInstrumentError(
                f"unknown instrument: Observation code {', '.join(sorted(codes)) or '(none)'} "
                "is not the total of a known instrument"
            )
        stored = parse_stored_total(_observation_value(observation))
        source = self._source_response(observation, responses)
        if source is None:
            return _unchecked_observation(item.path, instrument, observation, stored)
        # The response is identified on its own, exactly as on its own line, so both lines agree.
        scored = self._score(source, forced, candidates)
        line = self._response_line(item.path, scored)
        line["resource_type"] = "Observation"
        line["derived_from"] = source.path
        line["stored_total"] = stored
        line["stored_total_matches"] = stored_total_matches(stored, scored.result.total)
        return line

    def _source_response(self, observation: Json, responses: Mapping[str, Loaded]) -> Loaded | None:
        for ref in observation.get("derivedFrom", []) or []:
            reference = str(ref.get("reference", "")) if isinstance(ref, Mapping) else ""
            key = f"QuestionnaireResponse/{tail(reference)}"
            if _names_a_response(reference) and key in responses:
                return responses[key]
        return None

    def _questionnaire_line(self, item: Loaded) -> dict[str, Any]:
        instrument = instrument_from_questionnaire(item.resource)
        return {
            "file": item.path,
            "resource_type": "Questionnaire",
            "instrument": instrument.id,
            "instrument_version": instrument.version,
            "total": None,
            "band": None,
            "band_code": None,
            "complete": False,
            "incomplete_reason": "a Questionnaire defines the items and holds no answers",
            "flags": [],
            "items": {i.link_id: None for i in instrument.scored_items},
            "stored_total": None,
            "stored_total_matches": None,
        }

    def _fail(self, path: str, problem: str) -> None:
        self.bad = True
        # One line per bad file, even when the file put a newline into a linkId we quote.
        flat = " ".join(problem.split())
        self.err.write(f"{PROG}: {path}: {flat}\n")


def _names_a_response(reference: str) -> bool:
    return reference.startswith("QuestionnaireResponse/") or "/QuestionnaireResponse/" in reference


def _observation_value(observation: Json) -> object:
    for key in ("valueInteger", "valueDecimal", "valueString"):
        if key in observation:
            return observation[key]
    quantity = observation.get("valueQuantity")
    return quantity.get("value") if isinstance(quantity, Mapping) else None


def _unchecked_observation(
    path: str, instrument: Instrument, observation: Json, stored: object
) -> dict[str, Any]:
    refs = [
        r.get("reference") for r in observation.get("derivedFrom", []) if isinstance(r, Mapping)
    ]
    return {
        "file": path,
        "resource_type": "Observation",
        "instrument": instrument.id,
        "instrument_version": instrument.version,
        "total": None,
        "band": None,
        "band_code": None,
        "complete": False,
        "incomplete_reason": (
            "the Observation holds only a stored total; pass the QuestionnaireResponse it was "
            f"derived from ({', '.join(map(str, refs)) or 'none named'}) to check it"
        ),
        "flags": [],
        "items": {},
        "stored_total": stored,
        "stored_total_matches": None,
    }


if __name__ == "__main__":
    sys.exit(main())
