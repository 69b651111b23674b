"""The feedback loop over the API: links, responses, alerts and FHIR intake.

Every test checks the body as well as the status: nothing of a client the user may not see,
nothing stored on a refusal, and the audit entry each read or change leaves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings

from alliance.alerts.checklist import CHECKLIST_KEYS
from alliance.alerts.models import Alert, Kind, Status
from alliance.audit.models import AuditEntry, Outcome
from alliance.clients.models import Phase
from alliance.measures.models import MeasureLink, Response, Source
from alliance.notify.models import Message
from alliance.opaque import token_hash
from conftest import World, signed_in
from tests.test_permission_matrix import fhir_phq9

pytestmark = pytest.mark.django_db
FHIR_URL = "/api/fhir/QuestionnaireResponse"


def post(http: Any, url: str, body: object) -> Any:
    payload = body if isinstance(body, str) else json.dumps(body)
    return http.post(url, payload, content_type="application/json")


def assert_no_canaries(text: str, world: World, *clients: Any) -> None:
    for client in clients:
        for canary in world.canaries_of(client):
            assert canary not in text


def audit(action: str, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, **filters).order_by("seq"))


# --- links ------------------------------------------------------------------------------------


def test_it_creates_a_link_and_shows_its_url_once(world):
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    response = post(signed_in(world.clinician), url, {"timing": "before", "send_email": False})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "expires_at", "instruments"}
    assert body["instruments"] == ["phq9", "gad7"]
    link = MeasureLink.objects.get(pk=body["id"])
    token = body["url"].rstrip("/").rsplit("/", 1)[-1]
    assert link.token_hash == token_hash(token)
    assert token not in str(MeasureLink.objects.filter(pk=link.pk).values().get())
    assert_no_canaries(response.content.decode(), world, world.own_client)
    assert audit("link.create", object_id=str(link.pk), outcome=Outcome.OK)


def test_it_emails_the_link_when_asked_and_the_client_has_an_address(world):
    world.own_client.email = "client@example.invalid"
    world.own_client.save(update_fields=["email"])
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    response = post(signed_in(world.clinician), url, {"timing": "after", "send_email": True})
    assert response.status_code == 201
    assert response.json()["instruments"] == ["alliance-session-check"]
    message = Message.objects.get(to="client@example.invalid")
    assert response.json()["url"] in message.body


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"timing": "during", "send_email": False}, 422),
        ({"send_email": False}, 422),
        ({"timing": "before", "send_email": "perhaps"}, 422),
        ({"timing": "before", "send_email": True}, 400),  # the client has no email address
        ("not json", 400),
    ],
)
def test_a_bad_link_request_is_a_4xx_and_stores_nothing(world, body, status):
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    response = post(signed_in(world.clinician), url, body)
    assert response.status_code == status
    assert response.json()["detail"]
    assert not MeasureLink.objects.exists()


def test_a_link_for_a_closed_episode_is_refused_with_a_message(world):
    world.own_episode.phase = Phase.CLOSED
    world.own_episode.save(update_fields=["phase"])
    url = f"/api/encounters/{world.own_encounter.pk}/links"
    response = post(signed_in(world.clinician), url, {"timing": "before"})
    assert response.status_code == 400
    assert "closed" in response.json()["detail"]
    assert not MeasureLink.objects.exists()


def test_another_clinics_encounter_gets_no_link(world):
    url = f"/api/encounters/{world.other_org_encounter.pk}/links"
    response = post(signed_in(world.clinician), url, {"timing": "before"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}
    assert not MeasureLink.objects.exists()
    assert audit("link.create", outcome=Outcome.DENIED)


# --- responses --------------------------------------------------------------------------------


def _stored(world: World, client: Any, episode: Any, total: int) -> Response:
    return Response.objects.create(
        organisation=client.organisation,
        client=client,
        episode=episode,
        instrument_id="phq9",
        instrument_version="1",
        source=Source.LINK,
        answers={},
        total=total,
        band="mild",
        complete=True,
        flags=[],
        submitted_at=world.own_encounter.starts_at,
    )


def test_it_lists_a_clients_responses_and_no_one_elses(world):
    own = _stored(world, world.own_client, world.own_episode, 7)
    _stored(world, world.other_team_client, world.other_team_episode, 20)
    response = signed_in(world.clinician).get(f"/api/clients/{world.own_client.pk}/responses")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": own.pk,
            "instrument_id": "phq9",
            "total": 7,
            "band": "mild",
            "complete": True,
            "flags": [],
            "submitted_at": response.json()[0]["submitted_at"],
            "timing": "",
            "encounter_id": None,
            "source": "link",
        }
    ]
    assert audit("response.list", client_id=world.own_client.pk, outcome=Outcome.OK)


def test_another_teams_responses_are_not_found(world):
    _stored(world, world.other_team_client, world.other_team_episode, 20)
    url = f"/api/clients/{world.other_team_client.pk}/responses"
    response = signed_in(world.clinician).get(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}
    assert audit("response.list", outcome=Outcome.DENIED)


# --- alerts -----------------------------------------------------------------------------------


def test_it_lists_the_alerts_of_visible_clients_only(world):
    response = signed_in(world.clinician).get("/api/alerts")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [item] = body["items"]
    assert item["id"] == world.own_alert.pk
    assert item["client_id"] == world.own_client.pk
    assert set(item) == {
        "id",
        "client_id",
        "kind",
        "status",
        "reason",
        "facts",
        "opened_at",
        "version",
    }
    assert_no_canaries(response.content.decode(), world, world.own_client)
    assert audit("alert.list", outcome=Outcome.OK)


def test_a_coordinator_sees_the_teams_alerts_and_the_status_filter_applies(world):
    http = signed_in(world.coordinator)
    assert http.get("/api/alerts?status=open").json()["count"] == 1
    assert http.get("/api/alerts?status=resolved").json() == {"count": 0, "items": []}


def test_alerts_are_paged(world):
    http = signed_in(world.colleague)
    Alert.objects.create(
        organisation=world.org,
        client=world.other_team_client,
        episode=world.other_team_episode,
        kind=Kind.RUPTURE,
        priority=3,
        opened_at=world.own_alert.opened_at,
        reason="Alliance check 25/40",
    )
    first = http.get("/api/alerts?limit=1").json()
    second = http.get("/api/alerts?limit=1&offset=1").json()
    assert first["count"] == second["count"] == 2
    assert first["items"][0]["kind"] == "risk"  # the most urgent first
    assert second["items"][0]["kind"] == "rupture"


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "limit=0",
        "limit=201",
        "offset=-1",
        "offset=18446744073709551616",
        "limit=x",
    ],
)
def test_a_bad_alert_query_is_a_4xx(world, query):
    response = signed_in(world.clinician).get(f"/api/alerts?{query}")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_it_shows_one_alert_and_hides_another_clinics(world):
    http = signed_in(world.clinician)
    mine = http.get(f"/api/alerts/{world.own_alert.pk}")
    assert mine.status_code == 200
    assert mine.json()["reason"] == world.own_alert.reason
    theirs = http.get(f"/api/alerts/{world.other_org_alert.pk}")
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": "Not found"}
    assert_no_canaries(theirs.content.decode(), world, world.other_org_client)
    assert audit("alert.view", object_id=str(world.other_org_alert.pk), outcome=Outcome.DENIED)


def test_acknowledging_moves_the_alert_on_and_a_stale_version_is_refused(world):
    http = signed_in(world.clinician)
    url = f"/api/alerts/{world.own_alert.pk}/acknowledge"
    response = post(http, url, {"version": 1})
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["version"] == 2
    assert audit("alert.acknowledge", object_id=str(world.own_alert.pk), outcome=Outcome.OK)
    again = post(http, url, {"version": 1})
    assert again.status_code == 400
    assert again.json()["detail"] == "This alert is not open."


def test_a_stale_version_changes_nothing(world):
    response = post(
        signed_in(world.clinician), f"/api/alerts/{world.own_alert.pk}/acknowledge", {"version": 9}
    )
    assert response.status_code == 400
    assert "changed this record" in response.json()["detail"]
    assert Alert.objects.get(pk=world.own_alert.pk).status == Status.OPEN


def test_a_risk_alert_resolves_only_with_the_whole_checklist_and_a_note(world):
    http = signed_in(world.clinician)
    url = f"/api/alerts/{world.own_alert.pk}/resolve"
    partial = post(http, url, {"version": 1, "note": "Called.", "checklist": ["read"]})
    assert partial.status_code == 400
    assert "checklist" in partial.json()["detail"]
    no_note = post(http, url, {"version": 1, "note": " ", "checklist": CHECKLIST_KEYS})
    assert no_note.status_code == 400
    assert Alert.objects.get(pk=world.own_alert.pk).status == Status.OPEN
    done = post(http, url, {"version": 1, "note": "Called; safe.", "checklist": CHECKLIST_KEYS})
    assert done.status_code == 200
    assert done.json()["status"] == "resolved"
    alert = Alert.objects.get(pk=world.own_alert.pk)
    assert alert.resolution_note == "Called; safe."
    assert alert.checklist == dict.fromkeys(CHECKLIST_KEYS, True)
    assert audit("alert.resolve", object_id=str(alert.pk), outcome=Outcome.OK)


@pytest.mark.parametrize(
    "body",
    [
        {"version": "one", "note": "x", "checklist": []},
        {"version": 1, "note": "x", "checklist": "read"},
        {"version": 1, "checklist": []},
        {"version": 1, "note": "x" * 5001, "checklist": []},
        {"version": 18446744073709551616, "note": "x", "checklist": CHECKLIST_KEYS},
        {"version": 1, "note": "x", "checklist": [7]},
        {"version": 1, "note": "a\u0000b", "checklist": CHECKLIST_KEYS},
        "[1, 2",
    ],
)
def test_a_malformed_resolve_is_a_4xx_and_changes_nothing(world, body):
    response = post(signed_in(world.clinician), f"/api/alerts/{world.own_alert.pk}/resolve", body)
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert Alert.objects.get(pk=world.own_alert.pk).version == 1


def test_another_clinics_alert_cannot_be_acknowledged(world):
    url = f"/api/alerts/{world.other_org_alert.pk}/acknowledge"
    response = post(signed_in(world.clinician), url, {"version": 1})
    assert response.status_code == 404
    assert Alert.objects.get(pk=world.other_org_alert.pk).status == Status.OPEN
    assert audit("alert.acknowledge", outcome=Outcome.DENIED)


@pytest.mark.parametrize("alert_id", ["18446744073709551616", "9223372036854775808", "0", "-3"])
def test_an_impossible_alert_id_is_not_found(world, alert_id):
    response = signed_in(world.clinician).get(f"/api/alerts/{alert_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


# --- FHIR intake ------------------------------------------------------------------------------


def test_a_fhir_response_is_scored_stored_and_audited(world):
    response = post(signed_in(world.clinician), FHIR_URL, fhir_phq9(world.own_client.pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["instrument_id"] == "phq9"
    assert body["total"] == 12  # the US Core example's items: 2+2+2+2+1+1+2+0+0
    assert body["band"] == "moderate"
    assert body["source"] == "fhir"
    stored = Response.objects.get(pk=body["id"])
    assert stored.client_id == world.own_client.pk
    assert stored.episode_id == world.own_episode.pk
    assert stored.encounter_id is None
    assert stored.external_id == "phq-9-example"
    assert stored.answers["item9"] == 0
    assert_no_canaries(response.content.decode(), world, world.own_client)
    [entry] = audit("response.fhir_intake", object_type="response")
    assert entry.object_id == str(stored.pk)
    assert entry.detail == {"instrument": "phq9", "repeated": False}


def test_the_same_fhir_response_posted_twice_is_stored_once(world):
    http = signed_in(world.clinician)
    first = post(http, FHIR_URL, fhir_phq9(world.own_client.pk))
    second = post(http, FHIR_URL, fhir_phq9(world.own_client.pk))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Response.objects.count() == 1
    other = post(http, FHIR_URL, fhir_phq9(world.own_client.pk, resource_id="another"))
    assert other.status_code == 201
    assert Response.objects.count() == 2


def test_the_subject_can_be_the_clinics_record_number(world):
    resource = fhir_phq9(world.own_client.pk)
    resource["subject"] = {"identifier": {"value": world.own_client.record_number}}
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    assert response.status_code == 201
    assert Response.objects.get().client_id == world.own_client.pk
    assert world.own_client.record_number not in response.content.decode()


@pytest.mark.parametrize("by", ["reference", "record_number"])
def test_another_clinics_client_is_not_found_and_nothing_changes(world, by):
    resource = fhir_phq9(world.other_org_client.pk)
    if by == "record_number":
        resource["subject"] = {"identifier": {"value": world.other_org_client.record_number}}
    their_chain = AuditEntry.objects.filter(organisation_id=world.other_org.pk).count()
    alerts = list(Alert.objects.values())
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}
    assert not Response.objects.exists()
    assert list(Alert.objects.values()) == alerts
    assert AuditEntry.objects.filter(organisation_id=world.other_org.pk).count() == their_chain
    assert audit("response.fhir_intake", outcome=Outcome.DENIED, organisation_id=world.org.pk)
    assert_no_canaries(response.content.decode(), world, world.other_org_client)


def test_an_admin_cannot_post_answers(world):
    response = post(signed_in(world.admin), FHIR_URL, fhir_phq9(world.own_client.pk))
    assert response.status_code == 404
    assert not Response.objects.exists()


def test_a_client_without_an_open_episode_is_a_conflict(world):
    world.own_episode.phase = Phase.CLOSED
    world.own_episode.save(update_fields=["phase"])
    response = post(signed_in(world.clinician), FHIR_URL, fhir_phq9(world.own_client.pk))
    assert response.status_code == 409
    assert response.json() == {"detail": "no open episode"}
    assert not Response.objects.exists()
    assert audit("response.fhir_intake", outcome=Outcome.FAILED)


def test_a_risk_answer_opens_an_alert_as_a_clients_own_answer_would(world):
    Alert.objects.all().delete()
    resource = fhir_phq9(world.own_client.pk)
    item9 = next(i for i in resource["item"] if i["linkId"] == "/44260-8")
    item9["answer"] = [{"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}]
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    assert response.status_code == 201, response.content
    assert response.json()["flags"] == ["risk:item9"]
    alert = Alert.objects.get(client=world.own_client)
    assert alert.kind == Kind.RISK
    assert alert.response_id == response.json()["id"]
    assert audit("alert.open", object_id=str(alert.pk))


def _with(change: Any) -> Any:
    def build(world: World) -> Any:
        resource = fhir_phq9(world.own_client.pk)
        return change(resource)

    return build


def _first_answer(resource: dict[str, Any], answer: object) -> dict[str, Any]:
    resource["item"][0]["answer"] = [answer]
    return resource


BAD_FHIR = {
    "not JSON": lambda world: "{'resourceType': ",
    "a JSON array": lambda world: "[]",
    "NaN": lambda world: '{"resourceType": "QuestionnaireResponse", "id": NaN}',
    "deeply nested": lambda world: "[" * 100_000 + "]" * 100_000,
    "another resource type": _with(lambda r: {**r, "resourceType": "Observation"}),
    "no id": _with(lambda r: {k: v for k, v in r.items() if k != "id"}),
    "an id that is no FHIR id": _with(lambda r: {**r, "id": "x" * 65}),
    "a numeric id": _with(lambda r: {**r, "id": 12}),
    "in progress": _with(lambda r: {**r, "status": "in-progress"}),
    "no subject": _with(lambda r: {k: v for k, v in r.items() if k != "subject"}),
    "a subject that is a string": _with(lambda r: {**r, "subject": "Patient/1"}),
    "a Group subject": _with(lambda r: {**r, "subject": {"reference": "Group/1"}}),
    "a non-numeric patient": _with(lambda r: {**r, "subject": {"reference": "Patient/abc"}}),
    "an enormous patient": _with(lambda r: {**r, "subject": {"reference": "Patient/" + "9" * 40}}),
    "an empty identifier": _with(lambda r: {**r, "subject": {"identifier": {"value": ""}}}),
    "a numeric identifier": _with(lambda r: {**r, "subject": {"identifier": {"value": 7}}}),
    "items as a string": _with(lambda r: {**r, "item": "many"}),
    "an item as a number": _with(lambda r: {**r, "item": [3]}),
    "an item without a linkId": _with(lambda r: {**r, "item": [{"answer": []}]}),
    "an answer out of range": _with(lambda r: _first_answer(r, {"valueInteger": 7})),
    "an unknown answer code": _with(
        lambda r: _first_answer(r, {"valueCoding": {"system": "http://loinc.org", "code": "X"}})
    ),
    "a fractional answer": _with(lambda r: _first_answer(r, {"valueDecimal": 1.5})),
    "a text answer": _with(lambda r: _first_answer(r, {"valueString": "often"})),
    "an unknown instrument": _with(
        lambda r: {
            **r,
            "questionnaire": "http://example.org/Questionnaire/mood",
            "item": [{"linkId": "q1", "answer": [{"valueInteger": 1}]}],
        }
    ),
}


@pytest.mark.parametrize("case", list(BAD_FHIR))
def test_a_bad_fhir_response_is_a_clear_422_and_stores_nothing(world, case):
    entries = AuditEntry.objects.count()
    response = post(signed_in(world.clinician), FHIR_URL, BAD_FHIR[case](world))
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail
    assert "\n" not in detail
    assert not Response.objects.exists()
    assert AuditEntry.objects.count() == entries  # no read of a client took place


def test_a_huge_patient_id_that_parses_is_simply_not_found(world):
    resource = fhir_phq9(world.own_client.pk)
    resource["subject"] = {"reference": "Patient/" + "9" * 25}
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    assert response.status_code == 404
    assert not Response.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2_000)
def test_a_body_over_the_size_limit_is_refused(world):
    resource = fhir_phq9(world.own_client.pk)
    resource["text"] = {"status": "generated", "div": "x" * 5_000}
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    # RejectNulMiddleware reads the body first, so Django's own 400 answers before the view's 413.
    assert response.status_code in {400, 413}
    assert not Response.objects.exists()


def test_a_nul_in_a_record_number_is_refused_whatever_the_media_type(world):
    resource = fhir_phq9(world.own_client.pk)
    resource["subject"] = {"identifier": {"value": world.own_client.record_number + "\u0000"}}
    response = signed_in(world.clinician).post(
        FHIR_URL, json.dumps(resource), content_type="application/fhir+json"
    )
    assert response.status_code in {400, 422}
    assert response.json()["detail"]
    assert not Response.objects.exists()


def test_the_fhir_media_type_is_accepted(world):
    response = signed_in(world.clinician).post(
        FHIR_URL,
        json.dumps(fhir_phq9(world.own_client.pk)),
        content_type="application/fhir+json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize("answer", [{"valueInteger": 3}, "3", [[{"valueInteger": 3}]]])
def test_a_malformed_answer_is_refused_not_taken_as_unanswered(world, answer):
    import copy

    from alliance.measures.models import Response

    resource = copy.deepcopy(fhir_phq9(world.own_client.pk))
    changed = 0
    for item in resource["item"]:
        if item["linkId"].endswith("44260-8"):  # item 9, the risk question
            item["answer"] = answer
            changed += 1
    assert changed == 1
    response = post(signed_in(world.clinician), FHIR_URL, resource)
    assert response.status_code == 422
    assert "answer must be a list" in response.json()["detail"]
    assert not Response.objects.exists()
