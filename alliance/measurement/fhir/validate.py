"""Strict validation of the FHIR we emit, against the fhir.resources R4B (FHIR 4.3) models.

fhir.resources 8 defaults to R5; R4B is the R4-compatible release it ships, and Questionnaire,
QuestionnaireResponse and Observation are unchanged between R4 and R4B for what we write.
The import is local so that ``alliance score`` without output validation starts quickly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def validate_r4(resource: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` (pydantic's ValidationError) if ``resource`` is not valid R4B."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(str(resource["resourceType"]))
    model.model_validate(dict(resource))
