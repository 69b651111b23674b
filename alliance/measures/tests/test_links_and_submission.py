"""Links and submission: the client answers once, everything is stored in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from alliance.accounts.models import User, clinic_settings
from alliance.alerts.models import Alert, Kind, Status
from alliance.audit.models import AuditEntry
from alliance.measures import actions
from alliance.measures.models import MeasureLink, Response
from alliance.notify.models import Message
from alliance.opaque import TOKEN_BYTES, token_hash
from conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(world):
    """The world without its sample alerts, with staff emails, and a link for the session."""
    Alert.objects.all().delete()
    User.objects.filter(pk=world.clinician.user_id).update(email="lead@clinic.invalid")
    link, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    return world, link, token


def answers(phq9: list[int], gad7: list[int]) -> dict[str, str]:
    data = {f"phq9__item{n}": str(v) for n, v in enumerate(phq9, start=1)}
    data |= {f"gad7__item{n}": str(v) for n, v in enumerate(gad7, start=1)}
    return data


def url(token: str) -> str:
    return reverse("measure_link", args=[token])


def test_a_link_has_at_least_128_random_bits_and_only_its_hash_is_stored(fresh):
    world, link, token = fresh
    assert TOKEN_BYTES * 8 >= 128
    assert len(token) >= 43  # 32 bytes in URL-safe base64
    assert link.token_hash == token_hash(token)
    stored = MeasureLink.objects.filter(pk=link.pk).values().get()
    assert token not in str(stored)
    assert link.instruments == ["phq9", "gad7"]  # the default plan before a session
    hours = clinic_settings(world.org.pk).link_hours
    assert link.expires_at - link.created_at == timedelta(hours=hours)


def test_the_form_asks_every_question_and_names_no_client(fresh, client):
    world, _, token = fresh
    body = client.get(url(token)).content.decode()
    # PHQ-9 with its difficulty item, GAD-7; the optional extras add a victory's kind and reader.
    assert body.count('type="radio" name="phq9__') == 9 * 4 + 4
    assert body.count('type="radio" name="gad7__') == 7 * 4
    assert body.count('type="radio"') == 9 * 4 + 4 + 7 * 4 + 2 + 2
    assert world.own_client.display_name not in body
    assert world.own_client.record_number not in body


def test_a_complete_submission_stores_scores_alerts_audit_and_notices_together(fresh, client):
    world, link, token = fresh
    phq9 = [1, 2, 1, 2, 1, 1, 0, 1, 2]
    gad7 = [2, 2, 1, 1, 0, 1, 2]
    response = client.post(url(token), answers(phq9, gad7))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Thank you" in body
    assert clinic_settings(world.org.pk).crisis_contacts[:40] in body  # item 9 was endorsed
    stored = {r.instrument_id: r for r in Response.objects.filter(link=link)}
    assert stored["phq9"].total == sum(phq9) == 11
    assert stored["phq9"].band == "moderate"  # 10-14: Kroenke et al. 2001
    assert stored["phq9"].flags == ["risk:item9"]
    assert stored["gad7"].total == sum(gad7) == 9
    alert = Alert.objects.get(client=world.own_client)
    assert (alert.kind, alert.status) == (Kind.RISK, Status.OPEN)
    assert "answered 2" in alert.reason
    # The notice is written in the same transaction, with the one job that sends it.
    from django_tasks_db.models import DBTaskResult

    from alliance.alerts.tasks import send_notices

    notice = Message.objects.get(to="lead@clinic.invalid", kind="alert.risk")
    assert notice.sent_at is None
    assert world.own_client.display_name not in notice.body
    job = DBTaskResult.objects.get(task_path="alliance.alerts.tasks.send_notices")
    assert job.args_kwargs["args"] == [alert.pk, [notice.pk]]
    send_notices.call(alert.pk, [notice.pk])  # as the worker runs it
    assert [m.to for m in mail.outbox] == [["lead@clinic.invalid"]]
    assert Message.objects.get(pk=notice.pk).sent_at is not None
    logged = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"response.submit", "alert.open"} <= logged
    assert MeasureLink.objects.get(pk=link.pk).completed_at is not None


def test_sending_twice_stores_one_response(fresh, client):
    _world, link, token = fresh
    data = answers([0] * 9, [0] * 7)
    client.post(url(token), data)
    again = client.post(url(token), data)
    assert again.status_code == 200
    assert "already have your answers" in again.content.decode()
    assert Response.objects.filter(link=link).count() == 2  # PHQ-9 and GAD-7, once each


def scored_answers() -> dict[str, dict[str, int]]:
    return {
        "phq9": {f"item{n}": 1 for n in range(1, 10)},
        "gad7": {f"item{n}": 1 for n in range(1, 8)},
    }


def test_a_sender_who_loses_the_claim_stores_nothing_and_hears_it_was_received(fresh):
    _world, link, token = fresh
    seen_by_both = actions.peek(token).link  # read before either claimed it
    first = actions.submit(token, scored_answers(), link=seen_by_both)
    second = actions.submit(token, scored_answers(), link=actions.peek(token).link)
    late = actions.submit(token, scored_answers(), link=seen_by_both)

    assert not first.repeated
    assert all(r.pk for r in first.responses)
    assert second.repeated
    assert late.repeated
    assert Response.objects.filter(link=link).count() == 2
    assert AuditEntry.objects.filter(action="response.submit").count() == 1


def test_a_link_replaced_while_the_client_answered_stores_nothing(fresh):
    world, link, token = fresh
    seen = actions.peek(token).link
    actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    with pytest.raises(actions.LinkUnavailable) as refused:
        actions.submit(token, scored_answers(), link=seen)
    assert refused.value.state == "replaced"
    assert not Response.objects.filter(link=link).exists()


def test_a_half_finished_form_stores_nothing_and_keeps_the_answers(fresh, client):
    _world, link, token = fresh
    data = answers([1] * 9, [1] * 7)
    del data["phq9__item4"]
    response = client.post(url(token), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Please choose an answer to this question." in body
    assert 'value="1" id="id_phq9__item1_1" required checked' in body
    assert not Response.objects.exists()
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None


@pytest.mark.parametrize("bad", ["7", "-1", "abc", ""])
def test_an_answer_out_of_range_is_refused(fresh, client, bad):
    _, _, token = fresh
    data = answers([1] * 9, [1] * 7) | {"gad7__item3": bad}
    assert client.post(url(token), data).status_code == 400
    assert not Response.objects.exists()


def test_a_risk_answer_shows_the_crisis_contacts_even_if_the_form_is_incomplete(fresh, client):
    _world, _, token = fresh
    data = {"phq9__item9": "1"}
    body = client.post(url(token), data).content.decode()
    assert 'id="crisis" role="alert" aria-live="assertive" tabindex="-1">' in body  # not hidden


def test_a_tampered_token_finds_nothing(fresh, client):
    _, _, token = fresh
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.post(url(tampered), answers([1] * 9, [1] * 7))
    assert response.status_code == 404
    assert "couldn't find these questions" in response.content.decode()
    assert not Response.objects.exists()


def test_an_expired_link_says_so_and_what_to_do(fresh, client):
    _, link, token = fresh
    MeasureLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(1))
    response = client.get(url(token))
    assert response.status_code == 410
    assert "ask your therapist for a new one" in response.content.decode()
    assert client.post(url(token), answers([0] * 9, [0] * 7)).status_code == 410
    assert not Response.objects.exists()


def test_a_new_link_replaces_the_unused_one(fresh, client):
    world, _old, old_token = fresh
    actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    response = client.get(url(old_token))
    assert response.status_code == 410
    assert "no longer in use" in response.content.decode()


def test_nothing_is_half_written_when_a_step_fails(fresh, client, monkeypatch):
    _, link, token = fresh

    def broken(*args, **kwargs):
        raise RuntimeError("alert evaluation failed")

    monkeypatch.setattr(actions, "apply", broken)  # fails after the responses are written
    with pytest.raises(RuntimeError):
        actions.submit(
            token,
            {
                "phq9": {f"item{n}": 1 for n in range(1, 10)},
                "gad7": {f"item{n}": 1 for n in range(1, 8)},
            },
        )
    assert not Response.objects.exists()
    assert MeasureLink.objects.get(pk=link.pk).completed_at is None
    assert not AuditEntry.objects.filter(action="response.submit").exists()


def _submit(world, timing, data):
    _, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing=timing, send_email=False
    )
    return actions.submit(token, data)


def test_reliable_deterioration_since_intake_opens_an_alert(fresh):
    world, _, token = fresh
    actions.submit(
        token,
        {
            "phq9": {f"item{n}": 1 for n in range(1, 10)} | {"item9": 0},
            "gad7": {f"item{n}": 0 for n in range(1, 8)},
        },
    )
    assert not Alert.objects.exists()  # 8 at intake: nothing to say yet
    worse = {f"item{n}": 2 for n in range(1, 9)} | {"item9": 0}  # 16: +8
    _submit(world, "before", {"phq9": worse, "gad7": {f"item{n}": 0 for n in range(1, 8)}})
    alert = Alert.objects.get(kind=Kind.DETERIORATION)
    assert alert.reason.startswith("PHQ-9 went from 8 at intake to 16 now (+8)")


def test_a_rupture_is_repaired_and_the_next_rating_shows_whether_it_worked(fresh):
    world, _, _ = fresh
    low = {"heard": 6, "goals": 6, "approach": 7, "overall": 6}  # 25
    _submit(world, "after", {"alliance-session-check": low})
    rupture = Alert.objects.get(kind=Kind.RUPTURE)
    assert "25/40" in rupture.reason
    from alliance.alerts.actions import do_resolve

    do_resolve(
        world.actor(world.clinician),
        rupture.pk,
        note="We talked about pace.",
        checklist=[],
        version=rupture.version,
    )
    better = {"heard": 9, "goals": 8, "approach": 9, "overall": 8}  # 34
    _submit(world, "after", {"alliance-session-check": better})
    rupture.refresh_from_db()
    assert rupture.follow_up == "Next alliance check after the repair: 34/40 (+9 since the rupture)"


def test_an_emailed_link_is_sent_by_the_worker_and_reminded_once(committed_db):
    # Committed for real: the worker closes its database connection when it is done.
    from conftest import build_world

    world = build_world()
    Alert.objects.all().delete()
    world.own_client.email = "client@home.invalid"
    world.own_client.save(update_fields=["email"])
    link, _ = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=True
    )
    message = Message.objects.get(kind="link")
    assert "/m/" in message.body
    call_command("db_worker", batch=True, queue_name="*", verbosity=0)
    assert [m.to for m in mail.outbox] == [["client@home.invalid"]]
    assert Message.objects.get(pk=message.pk).sent_at is not None
    # The reminder job waits for its time; run its work now.
    assert actions.send_reminder(link.pk) is True
    assert actions.state_of(MeasureLink.objects.get(pk=link.pk)) == "replaced"
    assert Message.objects.filter(kind="link.reminder").count() == 1
    assert actions.send_reminder(link.pk) is False  # the old link is replaced: no second one


def test_the_non_completers_list_shows_unanswered_links(fresh):
    world, _, _ = fresh
    body = signed_in(world.clinician).get(reverse("pending_links")).content.decode()
    assert world.own_client.display_name in body
    assert "Open" in body


def test_a_clinician_can_email_only_when_the_client_has_an_address(fresh):
    world, _, _ = fresh
    from alliance.clients.errors import ActionError

    with pytest.raises(ActionError, match="no email address"):
        actions.do_create_link(
            world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=True
        )
