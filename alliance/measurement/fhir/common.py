"""Shared FHIR R4 vocabulary and small helpers for reading other systems' JSON leniently.

We read raw JSON rather than strict models because real files often break a rule that does not
matter to scoring (the LHC-Forms PHQ-9 fails strict R4B validation on a variable name); we
validate strictly only what we emit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from ..model import MeasurementError

LOINC = "http://loinc.org"
# The R4 extension for a choice's numeric weight, its R5 successor, and two older spellings still
# found in files written for STU3 and early R4.
WEIGHT_EXTENSIONS = (
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/valueset-ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
)
ORDINAL_VALUE = WEIGHT_EXTENSIONS[0]
CALCULATED_EXPRESSION = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
# Alliance's own extension: the scoring rules that FHIR has no element for (bands, risk items,
# cut-offs, missing-item policy), as JSON text, so our exports re-import unchanged.
ALLIANCE_SCORING = "urn:alliance:fhir:StructureDefinition:instrument-scoring"
ALLIANCE_CODES = "urn:alliance:fhir:CodeSystem:instrument"

Json = Mapping[str, Any]


class FhirInputError(MeasurementError):
    """A file that is not FHIR, or FHIR we cannot use."""


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Turn a shape we did not expect (a number where an object belongs) into a clear error.

    Other systems' files can break any rule; the person running the import needs one line that
    says the file is malformed, not a traceback.
    """
    try:
        yield
    except MeasurementError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as error:
        raise FhirInputError(f"malformed {what} ({type(error).__name__}: {error})") from error


def require_resource(data: object, *expected: str) -> Json:
    if not isinstance(data, Mapping) or not isinstance(data.get("resourceType"), str):
        raise FhirInputError("not a FHIR resource (no resourceType)")
    if expected and data["resourceType"] not in expected:
        raise FhirInputError(
            f"resourceType {data['resourceType']} cannot be used here "
            f"(expected {' or '.join(expected)})"
        )
    return data


def extension_weight(holder: Json) -> int | None:
    """The ordinalValue / itemWeight weight on an element, if it has one."""
    for extension in holder.get("extension", []):
        if isinstance(extension, Mapping) and extension.get("url") in WEIGHT_EXTENSIONS:
            raw = extension.get("valueDecimal", extension.get("valueInteger"))
            return integral(raw, f"weight {raw!r} in {extension.get('url')}")
    return None


def integral(raw: object, what: str) -> int:
    """An integer from a JSON number or numeric string; rejects fractions and booleans."""
    if isinstance(raw, bool) or raw is None:
        raise FhirInputError(f"{what} is not a number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise FhirInputError(f"{what} is not a number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise FhirInputError(f"{what} is not a whole number")
    return int(number)


def tail(identifier: str) -> str:
    """Last segment of a path-like linkId or URL: "/44249-1/44250-9" -> "44250-9"."""
    bare = identifier.split("|", 1)[0].rstrip("/")
    return re.split(r"[/#]", bare)[-1]


def canonical(url: str | None) -> str | None:
    """A canonical URL without its |version suffix."""
    return None if url is None else url.split("|", 1)[0]


def loinc_codes(codings: object) -> list[str]:
    if not isinstance(codings, list):
        return []
    return [
        c["code"]
        for c in codings
        if isinstance(c, Mapping) and c.get("system") == LOINC and isinstance(c.get("code"), str)
    ]


def walk_items(items: object) -> Iterator[Json]:
    """Every item, depth first, through nested groups and items nested under answers."""
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, Mapping):
            raise FhirInputError("an item is not a JSON object")
        yield item
        yield from walk_items(item.get("item"))
        for answer in item.get("answer", []) or []:
            if isinstance(answer, Mapping):
                yield from walk_items(answer.get("item"))
