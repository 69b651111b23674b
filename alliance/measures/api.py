"""Measure endpoints: one-time links, a client's responses, and FHIR intake of answers."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Router, Status

from alliance.clients.access import access_client
from alliance.clients.schemas import NOT_FOUND, ErrorOut
from alliance.measurement import MeasurementError
from alliance.measures.actions import do_create_link, link_url
from alliance.measures.intake import NoOpenEpisode, do_fhir_intake
from alliance.measures.models import Response
from alliance.measures.schemas import LinkIn, LinkOut, ResponseOut
from alliance.web.api_util import actor_of

router = Router(tags=["measures"])
FHIR_JSON = "application/fhir+json"
FHIR_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "A FHIR R4 QuestionnaireResponse with an id, status completed or amended, and a "
            "subject: reference 'Patient/<client id>' or identifier.value (the record number)."
        ),
        "content": {
            media: {"schema": {"type": "object", "additionalProperties": True}}
            for media in (FHIR_JSON, "application/json")
        },
    }
}


@router.post(
    "/encounters/{encounter_id}/links",
    response={201: LinkOut, 400: ErrorOut, **NOT_FOUND},
    summary="Create a session's one-time measure link (its URL is shown this once)",
)
def link_create(request: HttpRequest, encounter_id: int, body: LinkIn) -> Status[LinkOut]:
    link, token = do_create_link(
        actor_of(request), encounter_id, timing=body.timing, send_email=body.send_email
    )
    out = LinkOut(
        id=link.pk,
        url=link_url(token),
        expires_at=link.expires_at,
        instruments=list(link.instruments),
    )
    return Status(201, out)


@router.get(
    "/clients/{client_id}/responses",
    response={200: list[ResponseOut], **NOT_FOUND},
    summary="A client's completed measures, oldest first",
)
def client_responses(request: HttpRequest, client_id: int) -> list[Response]:
    client = access_client(actor_of(request), client_id, action="response.list")
    return list(client.responses.order_by("submitted_at", "pk"))


@router.post(
    "/fhir/QuestionnaireResponse",
    response={
        200: ResponseOut,
        201: ResponseOut,
        409: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
        **NOT_FOUND,
    },
    summary="Take a client's answers from another system (FHIR R4 QuestionnaireResponse)",
    description=(
        "201 stores a new response; 200 returns the one already stored for this resource id. "
        "422 for a malformed or out-of-range response, 409 when the client has no open episode."
    ),
    openapi_extra=FHIR_BODY,
)
def fhir_questionnaire_response(request: HttpRequest) -> Status[Response | ErrorOut]:
    try:
        intake = do_fhir_intake(actor_of(request), _json_object(request))
    except RequestDataTooBig:
        return Status(413, ErrorOut(detail="the body is too large"))
    except MeasurementError as exc:
        return Status(422, ErrorOut(detail=_one_line(str(exc))))
    except NoOpenEpisode as exc:
        return Status(409, ErrorOut(detail=str(exc)))
    return Status(201 if intake.created else 200, intake.response)


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise MeasurementError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MeasurementError("the body must be a JSON object (a QuestionnaireResponse)")
    return data


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _one_line(message: str) -> str:
    line = message.splitlines()[0] if message else "the QuestionnaireResponse cannot be used"
    return line[:300]
