"""Taking a FHIR QuestionnaireResponse from another system: one client, one transaction.

The subject must be a client the actor may see (else the same NotFound as a missing one); the
answers are scored by the measurement core against the shipped instruments, stored on the
client's open episode and run through the same alert rules as a client's own submission.
The resource's id makes a repeated post safe: the second one returns the first response.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import clinic_settings
from alliance.alerts.actions import evaluate
from alliance.audit.log import record
from alliance.clients.access import access_client, visible_clients
from alliance.clients.errors import ActionError, audit_refusals
from alliance.clients.models import Client, Phase
from alliance.measurement.fhir import FhirInputError, score_questionnaire_response
from alliance.measures.models import Response, Source

ACTION = "response.fhir_intake"
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4's rule for a resource id
PATIENT_REFERENCE = re.compile(r"Patient/([1-9][0-9]{0,29})")  # ASCII digits, no leading 0
ACCEPTED_STATUSES = ("completed", "amended")


class NoOpenEpisode(ActionError):
    """The client has no open episode to attach the answers to."""

    def __init__(self) -> None:
        super().__init__("no open episode")


@dataclass(frozen=True)
class Intake:
    response: Response
    created: bool  # False when this resource id had been received before


@audit_refusals(ACTION)
def do_fhir_intake(actor: Actor, resource: Mapping[str, Any]) -> Intake:
    """Score, store, evaluate alerts and audit a QuestionnaireResponse: all or nothing.

    Raises NotFound for a subject the actor may not see, FhirInputError (a MeasurementError)
    for a malformed or out-of-range response and NoOpenEpisode when there is nowhere to put it.
    """
    resource_id = _checked_resource(resource)
    with transaction.atomic():
        client = access_client(actor, _subject_client_id(actor, resource), action=ACTION)
        scored = score_questionnaire_response(resource)
        # One intake per client at a time, so a repeated post cannot store the answers twice.
        list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk"))
        existing = Response.objects.filter(
            client=client, source=Source.FHIR, external_id=resource_id
        ).first()
        if existing is not None:
            _audit(actor, existing, repeated=True)
            return Intake(existing, created=False)
        episode = client.episodes.exclude(phase=Phase.CLOSED).order_by("-opened_on", "-pk").first()
        if episode is None:
            raise NoOpenEpisode
        result = scored.result
        answers = {
            k: v for k, v in {**result.items, **result.unscored_items}.items() if v is not None
        }
        response = Response.objects.create(
            organisation_id=client.organisation_id,
            client=client,
            episode=episode,
            instrument_id=scored.instrument.id,
            instrument_version=scored.instrument.version,
            source=Source.FHIR,
            answers=answers,
            total=result.total,
            band=result.band or "",
            complete=result.complete,
            flags=result.flags,
            submitted_at=timezone.now(),
            external_id=resource_id,
        )
        evaluate(response, scored.instrument, result, clinic_settings(client.organisation_id))
        _audit(actor, response, repeated=False)
    return Intake(response, created=True)


def _checked_resource(resource: Mapping[str, Any]) -> str:
    """The resource's id, once the parts we rely on before scoring are there."""
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise FhirInputError("resourceType must be QuestionnaireResponse")
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not FHIR_ID.fullmatch(resource_id):
        raise FhirInputError(
            "id must be a FHIR id (1-64 letters, digits, '-' or '.'): a repeated post is "
            "recognised by it"
        )
    if resource.get("status") not in ACCEPTED_STATUSES:
        raise FhirInputError("status must be completed or amended")
    return resource_id


def _subject_client_id(actor: Actor, resource: Mapping[str, Any]) -> int:
    """The client id named by subject.reference, or found by subject.identifier.value.

    A record number is looked up among the actor's visible clients only; one they may not see
    gives 0, which access_client refuses like any missing client.
    """
    subject = resource.get("subject")
    if not isinstance(subject, Mapping):
        raise FhirInputError(
            "subject is missing: give subject.reference 'Patient/<client id>' or "
            "subject.identifier.value (the clinic's record number)"
        )
    reference = subject.get("reference")
    if reference is not None:
        found = PATIENT_REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
        if found is None:
            raise FhirInputError("subject.reference must be 'Patient/<client id>'")
        return int(found[1])
    identifier = subject.get("identifier")
    value = identifier.get("value") if isinstance(identifier, Mapping) else None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200 or "\x00" in value:
        raise FhirInputError(
            "subject needs a reference 'Patient/<client id>' or identifier.value "
            "(the clinic's record number)"
        )
    pk = visible_clients(actor).filter(record_number=value.strip()).values_list("pk", flat=True)
    return pk.first() or 0


def _audit(actor: Actor, response: Response, *, repeated: bool) -> None:
    record(
        ACTION,
        actor=actor,
        client_id=response.client_id,
        object_type="response",
        object_id=response.pk,
        detail={"instrument": response.instrument_id, "repeated": repeated},
    )
