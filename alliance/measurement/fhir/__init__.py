"""FHIR R4 in and out: Questionnaire export and import, QuestionnaireResponse scoring,
Observations. Reads other systems' JSON leniently; validates what it writes with fhir.resources.
"""

from .common import FhirInputError
from .observation import observation_for_total, observations_for_items
from .questionnaire_export import questionnaire_from_instrument
from .questionnaire_import import instrument_from_questionnaire
from .response import ResponseScore, parse_stored_total, score_questionnaire_response
from .validate import validate_r4

__all__ = [
    "FhirInputError",
    "ResponseScore",
    "instrument_from_questionnaire",
    "observation_for_total",
    "observations_for_items",
    "parse_stored_total",
    "questionnaire_from_instrument",
    "score_questionnaire_response",
    "validate_r4",
]
