"""Bad input gets a clear answer, never a 500, and leaves stored data as it was.

Each case here was found by an adversarial review; the test keeps it fixed.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from alliance.audit.models import AuditEntry, Outcome
from alliance.clients.models import Encounter, Episode
from conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "1850-06-01T10:00:00Z"]
)
def test_a_session_date_outside_any_sane_window_is_refused(world, when):
    http = signed_in(world.clinician)
    before = Encounter.objects.count()
    response = http.post(
        f"/api/episodes/{world.own_episode.pk}/encounters",
        {"starts_at": when, "kind": "therapy"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "session time must fall between" in response.json()["detail"]
    assert Encounter.objects.count() == before
    assert http.get(reverse("client", args=[world.own_client.pk])).status_code == 200


def test_an_episode_cannot_open_in_year_one(world):
    world.own_episode.phase = "closed"
    world.own_episode.save(update_fields=["phase"])
    http = signed_in(world.clinician)
    response = http.post(
        reverse("episode_open", args=[world.own_client.pk]),
        {"opened_on": "0001-01-01", "planned_sessions": "8"},
        follow=True,
    )
    assert "opening date must fall between" in response.content.decode()
    assert Episode.objects.filter(client=world.own_client).count() == 1


@pytest.mark.parametrize(
    "query",
    [
        "offset=18446744073709551616",
        "offset=9223372036854775808",
        "limit=0",
        "limit=201",
        "offset=-1",
        "limit=abc",
    ],
)
def test_api_paging_out_of_range_is_a_422_with_a_message(world, query):
    response = signed_in(world.clinician).get(f"/api/clients?{query}")
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("huge", ["18446744073709551616", "9223372036854775808"])
def test_ids_beyond_any_column_are_simply_not_found(world, huge):
    http = signed_in(world.clinician)
    assert http.get(f"/clients/{huge}/").status_code == 404
    assert http.get(f"/api/clients/{huge}").status_code == 404
    assert http.get(f"/alerts/{huge}/").status_code == 404


def test_a_huge_team_id_on_the_admin_page_is_a_form_error(world):
    http = signed_in(world.admin)
    response = http.post(
        reverse("manage_user_edit", args=[world.colleague.pk]),
        {
            "role": "clinician",
            "discipline": "social_work",
            "is_active": "on",
            "teams": "18446744073709551616",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize("path", ["/?q=%00", "/?q=abc%00def", "/api/clients?limit=%00"])
def test_a_nul_character_in_a_query_is_a_400(world, path):
    response = signed_in(world.clinician).get(path)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_character_in_a_json_body_is_a_400_and_changes_nothing(world):
    http = signed_in(world.clinician)
    response = http.post(
        f"/api/encounters/{world.own_encounter.pk}/attendance",
        '{"attendance": "attended\\u0000", "version": 1}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert Encounter.objects.get(pk=world.own_encounter.pk).attendance == "scheduled"


def test_an_over_long_email_is_a_form_error(world):
    http = signed_in(world.clinician)
    response = http.post(
        reverse("client_new"),
        {"display_name": "Robin K.", "record_number": "X1", "email": "a" * 300 + "@example.com"},
    )
    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()


def test_a_url_naming_another_client_than_the_episode_s_changes_nothing(world):
    http = signed_in(world.clinician)
    before = Encounter.objects.count()
    url = reverse("encounter_new", args=[world.other_org_client.pk, world.own_episode.pk])
    response = http.post(url, {"starts_at": "2026-12-01T10:00", "kind": "therapy"})
    assert response.status_code == 404
    assert Encounter.objects.count() == before
    url = reverse("session_measures", args=[world.other_team_client.pk, world.own_encounter.pk])
    assert http.get(url).status_code == 404


def test_a_refused_change_leaves_a_denied_audit_entry(world):
    http = signed_in(world.outsider)
    response = http.post(
        f"/api/encounters/{world.own_encounter.pk}/attendance",
        {"attendance": "attended", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 404
    entry = AuditEntry.objects.filter(actor_id=world.outsider.user_id).latest("pk")
    assert (entry.action, entry.outcome) == ("encounter.attendance", Outcome.DENIED)
    assert entry.object_id == str(world.own_encounter.pk)


def test_a_change_refused_by_a_rule_is_audited_as_failed(world):
    http = signed_in(world.consultant)  # on the care team, but not its lead
    http.post(
        reverse("care_team_add", args=[world.own_client.pk]),
        {"membership": world.colleague.pk, "care_role": "member"},
    )
    entry = AuditEntry.objects.filter(actor_id=world.consultant.user_id).latest("pk")
    assert (entry.action, entry.outcome) == ("careteam.add", Outcome.FAILED)
    assert "lead clinician" in entry.detail["reason"]


def test_a_form_with_errors_is_shown_again_with_labels_and_what_was_typed(world):
    http = signed_in(world.clinician)
    url = reverse("encounter_new", args=[world.own_client.pk, world.own_episode.pk])
    response = http.post(url, {"starts_at": "not a time", "kind": "therapy"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid date/time." in body
    assert 'value="not a time"' in body


def test_get_on_a_form_only_address_explains_itself(world):
    response = signed_in(world.clinician).get(reverse("logout"))
    assert response.status_code == 405
    assert "takes a form" in response.content.decode()


def test_removing_someone_twice_says_so_kindly(world):
    http = signed_in(world.clinician)
    place = world.own_client.care_team.get(membership=world.consultant)
    url = reverse("care_team_end", args=[world.own_client.pk, place.pk])
    http.post(url)
    again = http.post(url, follow=True)
    assert again.status_code == 200
    assert "already left the care team" in again.content.decode()


def test_a_nul_in_a_fhir_body_is_a_400_json(world):
    response = signed_in(world.clinician).post(
        "/api/fhir/QuestionnaireResponse",
        '{"resourceType": "QuestionnaireResponse", "id": "a\\u0000"}',
        content_type="application/fhir+json",
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_an_oversized_api_body_is_a_413_json(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = signed_in(world.clinician).post(
        "/api/fhir/QuestionnaireResponse", "x" * 5000, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is too large."}


@pytest.mark.parametrize("odd", ["²", "٣", "1²"])
def test_unicode_digits_are_refused_never_a_500(world, odd):
    from alliance.measures.actions import do_create_link

    _, token = do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    http = signed_in(world.clinician)
    assert http.post(f"/m/{token}/", {"phq9__item9": odd}).status_code == 400
    alert = reverse("alert_acknowledge", args=[world.own_alert.pk])
    assert http.post(alert, {"version": odd}).status_code == 302
    chart = reverse("client_chart", args=[world.own_client.pk])
    assert http.get(chart, {"episode": odd}).status_code in {200, 404}


def test_closing_an_episode_retires_its_unanswered_links(world):
    from alliance.clients.actions import do_close_episode
    from alliance.measures.actions import do_create_link

    _, token = do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    do_close_episode(
        world.actor(world.clinician),
        world.own_episode.pk,
        closed_on=world.own_episode.opened_on,
        reason="planned",
        version=1,
    )
    response = signed_in(world.clinician).get(f"/m/{token}/")
    assert response.status_code == 410
    assert "Your sessions here have ended" in response.content.decode()


def test_a_log_record_never_holds_a_link_token():
    import logging

    from alliance.web.logs import RedactTokens

    record = logging.LogRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Internal Server Error: %s",
        ("/m/SecretToken123-_/",),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "Internal Server Error: /m/[token]/"
