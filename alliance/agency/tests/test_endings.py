"""Phases with the ending in view, the relapse-prevention plan, and follow-up after discharge.

Clinical figures used here come from the instrument files: PHQ-9 caseness cut-off 10 and
reliable change 6 (NHS Talking Therapies manual, as cited in phq9.json)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from alliance.agency import endings
from alliance.agency.models import CheckIn, PhaseChange, RelapsePlan
from alliance.alerts.models import Alert, Kind
from alliance.clients.errors import ActionError, StaleWrite
from alliance.clients.models import Attendance, Encounter, Episode, Phase
from alliance.measures import actions
from alliance.measures.models import MeasureLink
from conftest import scored_response, signed_in

pytestmark = pytest.mark.django_db


def move(world, to, **kwargs):
    episode = Episode.objects.get(pk=world.own_episode.pk)
    return endings.do_move_phase(
        world.actor(world.clinician),
        episode.pk,
        to=to,
        version=episode.version,
        client_id=world.own_client.pk,
        **kwargs,
    )


def to_follow_up(world, **kwargs):
    move(world, Phase.WORKING)
    move(world, Phase.ENDING)
    return move(world, Phase.FOLLOW_UP, **kwargs)


def test_phases_move_in_order_and_refuse_a_leap(world):
    with pytest.raises(ActionError, match="cannot move to follow-up"):
        move(world, Phase.FOLLOW_UP)
    assert move(world, Phase.WORKING).phase == Phase.WORKING
    assert move(world, Phase.ENDING).phase == Phase.ENDING
    assert move(world, Phase.WORKING).phase == Phase.WORKING  # back, when ending was early
    assert [(c.from_phase, c.to_phase) for c in PhaseChange.objects.order_by("pk")] == [
        ("engagement", "working"),
        ("working", "ending"),
        ("ending", "working"),
    ]


def test_a_stale_form_does_not_move_the_episode(world):
    with pytest.raises(StaleWrite):
        endings.do_move_phase(
            world.actor(world.clinician), world.own_episode.pk, to=Phase.WORKING, version=99
        )
    assert Episode.objects.get(pk=world.own_episode.pk).phase == Phase.ENGAGEMENT


def test_another_clinics_clinician_cannot_move_the_episode(world):
    from alliance.clients.errors import NotFound

    with pytest.raises(NotFound):
        endings.do_move_phase(
            world.actor(world.outsider), world.own_episode.pk, to=Phase.WORKING, version=1
        )


def test_discharge_schedules_check_ins_on_their_days_through_the_worker(
    world, django_capture_on_commit_callbacks
):
    Episode.objects.filter(pk=world.own_episode.pk).update(opened_on=date(2025, 10, 1))
    with django_capture_on_commit_callbacks(execute=True):
        to_follow_up(world, months=(1, 3, 6), discharged_on=date(2026, 1, 31))
    rows = list(CheckIn.objects.order_by("due_on"))
    assert [(r.months, r.due_on) for r in rows] == [
        (1, date(2026, 2, 28)),  # the end of a shorter month
        (3, date(2026, 4, 30)),
        (6, date(2026, 7, 31)),
    ]
    assert all(r.encounter.kind == "follow_up" for r in rows)
    queued = DBTaskResult.objects.filter(task_path="alliance.agency.tasks.send_check_in")
    assert sorted(t.args_kwargs["args"][0] for t in queued) == [r.pk for r in rows]
    assert {timezone.localtime(t.run_after).date() for t in queued} == {r.due_on for r in rows}
    episode = Episode.objects.get(pk=world.own_episode.pk)
    assert (episode.phase, episode.ending_reason) == (Phase.FOLLOW_UP, "planned")


@pytest.mark.parametrize("months", ["", "0", "1, 30", "a, b", "1,2,3,4,5,6,7"])
def test_bad_follow_up_intervals_are_refused(months):
    with pytest.raises(ActionError):
        endings.parse_months(months)


def test_a_check_in_on_its_day_sends_a_link_by_email(world):
    world.own_client.email = "client@example.invalid"
    world.own_client.save()
    to_follow_up(world, months=(1,))
    row = CheckIn.objects.get()
    assert endings.send_check_in(row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == "sent"
    link = MeasureLink.objects.get(encounter=row.encounter)
    assert link.instruments == ["phq9", "gad7"]
    from alliance.notify.models import Message

    assert Message.objects.filter(subject__startswith="Checking in").count() == 1
    assert endings.send_check_in(row.pk) == "not needed"  # once only


def test_a_check_in_after_re_opening_is_cancelled(world):
    to_follow_up(world, months=(1, 3))
    move(world, Phase.WORKING, note="Came back after a hard month")
    assert set(CheckIn.objects.values_list("status", flat=True)) == {"cancelled"}
    first = CheckIn.objects.order_by("pk").first()
    assert first is not None
    assert endings.send_check_in(first.pk) == "not needed"
    assert not MeasureLink.objects.filter(encounter=first.encounter).exists()


def _answer_check_in(world, client, phq9_items):
    to_follow_up(world, months=(1,))
    row = CheckIn.objects.get()
    _link, token = actions.do_create_link(
        world.actor(world.clinician), row.encounter_id, timing="before", send_email=False
    )
    data = {f"phq9__item{n}": str(v) for n, v in enumerate(phq9_items, start=1)}
    data |= {f"gad7__item{n}": "0" for n in range(1, 8)}
    assert client.post(reverse("measure_link", args=[token]), data).status_code == 200
    return row


def _in_treatment(world, totals):
    start = timezone.now() - timedelta(days=90)
    for n, total in enumerate(totals):
        scored_response(world.own_episode, "phq9", total, "", start + timedelta(days=7 * n))


def test_a_check_in_above_the_cut_off_raises_a_follow_up_alert_with_its_numbers(world, client):
    Alert.objects.all().delete()
    _in_treatment(world, [18, 12, 7])
    row = _answer_check_in(world, client, [2, 2, 1, 2, 1, 1, 1, 1, 0])  # PHQ-9 = 11
    alert = Alert.objects.get()
    assert alert.kind == Kind.FOLLOW_UP
    assert "PHQ-9 is 11 at the follow-up check-in" in alert.reason
    assert "cut-off of 10" in alert.reason
    assert "end of treatment" not in alert.reason  # 11 - 7 = 4 < 6: not reliably worse
    assert CheckIn.objects.get(pk=row.pk).status == "answered"
    # The in-treatment rules do not fire on a check-in (no deterioration, no not-on-track).
    assert not Alert.objects.exclude(kind=Kind.FOLLOW_UP).exists()


def test_a_reliably_worse_check_in_below_the_cut_off_still_alerts(world, client):
    Alert.objects.all().delete()
    _in_treatment(world, [14, 6, 2])
    _answer_check_in(world, client, [1, 1, 1, 1, 1, 1, 1, 1, 0])  # PHQ-9 = 8: 6 worse than 2
    alert = Alert.objects.get()
    assert "6 points worse than at the end of treatment (2)" in alert.reason
    assert "cut-off" not in alert.reason


def test_a_good_check_in_raises_nothing(world, client):
    Alert.objects.all().delete()
    _in_treatment(world, [16, 9, 5])
    _answer_check_in(world, client, [1, 1, 1, 1, 0, 0, 0, 0, 0])  # PHQ-9 = 4
    assert not Alert.objects.exists()


def test_a_link_used_after_discharge_and_closing_says_so_and_takes_nothing(world, client):
    link, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    from alliance.clients.actions import do_close_episode

    do_close_episode(
        world.actor(world.clinician),
        world.own_episode.pk,
        closed_on=timezone.localdate(),
        reason="planned",
        version=1,
    )
    response = client.get(reverse("measure_link", args=[token]))
    assert response.status_code == 410
    assert "Your sessions here have ended" in response.content.decode()
    data = {f"phq9__item{n}": "1" for n in range(1, 10)} | {
        f"gad7__item{n}": "1" for n in range(1, 8)
    }
    response = client.post(reverse("measure_link", args=[token]), data)
    assert response.status_code == 410
    assert not link.responses.exists()


def test_a_sessions_link_used_after_discharge_says_so_and_takes_nothing(world, client):
    link, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    to_follow_up(world, months=(1,))
    response = client.get(reverse("measure_link", args=[token]))
    assert response.status_code == 410
    assert "Your sessions here have ended" in response.content.decode()
    data = {f"phq9__item{n}": "1" for n in range(1, 10)}
    data |= {f"gad7__item{n}": "1" for n in range(1, 8)}
    assert client.post(reverse("measure_link", args=[token]), data).status_code == 410
    assert not link.responses.exists()
    # The check-in's own link works in follow-up.
    check_in = CheckIn.objects.get()
    _, fresh = actions.do_create_link(
        world.actor(world.clinician), check_in.encounter_id, timing="before", send_email=False
    )
    assert client.get(reverse("measure_link", args=[fresh])).status_code == 200


def test_re_opening_a_closed_episode_keeps_its_history(world):
    scored_response(world.own_episode, "phq9", 12, "", timezone.now())
    from alliance.clients.actions import do_close_episode

    do_close_episode(
        world.actor(world.clinician),
        world.own_episode.pk,
        closed_on=timezone.localdate(),
        reason="dropped_out",
        version=1,
    )
    episode = move(world, Phase.WORKING, note="Back into care")
    assert (episode.phase, episode.closed_on, episode.ending_reason) == ("working", None, "")
    assert episode.responses.count() == 1
    assert PhaseChange.objects.get().from_phase == "closed"


def test_re_opening_is_refused_when_another_episode_is_open(world):
    from alliance.clients.actions import do_close_episode, do_open_episode

    actor = world.actor(world.clinician)
    do_close_episode(
        actor, world.own_episode.pk, closed_on=timezone.localdate(), reason="planned", version=1
    )
    do_open_episode(actor, world.own_client.pk, opened_on=timezone.localdate(), planned_sessions=6)
    with pytest.raises(ActionError, match="another open episode"):
        move(world, Phase.WORKING)


def test_the_relapse_plan_is_written_in_the_ending_phase_and_kept_by_the_client(world, client):
    actor = world.actor(world.clinician)
    fields = {"warning_signs": "Staying in bed\nSkipping meals", "what_helps": "Morning walks"}
    with pytest.raises(ActionError, match="ending phase"):
        endings.do_save_relapse_plan(actor, world.own_episode.pk, fields=fields, version=None)
    move(world, Phase.WORKING)
    move(world, Phase.ENDING)
    plan = endings.do_save_relapse_plan(actor, world.own_episode.pk, fields=fields, version=None)
    with pytest.raises(StaleWrite):  # a second writer who read no plan
        endings.do_save_relapse_plan(actor, world.own_episode.pk, fields=fields, version=None)
    endings.do_save_relapse_plan(
        actor, world.own_episode.pk, fields={**fields, "what_to_do": "Call Sam"}, version=1
    )
    plan.refresh_from_db()
    assert (plan.version, plan.what_to_do) == (2, "Call Sam")
    _link, token = actions.do_create_link(
        actor, world.own_encounter.pk, timing="before", send_email=False
    )
    page = client.get(reverse("measure_link", args=[token])).content.decode()
    assert "Your plan for staying well" in page
    own = client.get(reverse("client_own", args=[token]))
    assert own.status_code == 200
    assert "Morning walks" in own.content.decode()
    assert "How things have moved" not in own.content.decode()  # progress is off by default
    pdf = client.get(reverse("client_plan_pdf", args=[token]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"Morning walks" in pdf.content
    assert world.own_client.display_name.encode() not in pdf.content


def test_an_empty_or_oversized_plan_is_refused(world):
    actor = world.actor(world.clinician)
    move(world, Phase.WORKING)
    move(world, Phase.ENDING)
    with pytest.raises(ActionError, match="at least one part"):
        endings.do_save_relapse_plan(actor, world.own_episode.pk, fields={}, version=None)
    with pytest.raises(ActionError, match="at most 2000"):
        endings.do_save_relapse_plan(
            actor, world.own_episode.pk, fields={"what_helps": "x" * 2001}, version=None
        )
    assert not RelapsePlan.objects.exists()


def test_the_own_page_needs_a_usable_link_and_something_to_show(world, client):
    link, token = actions.do_create_link(
        world.actor(world.clinician), world.own_encounter.pk, timing="before", send_email=False
    )
    assert client.get(reverse("client_own", args=[token])).status_code == 404  # nothing on
    assert client.get(reverse("client_own", args=["x" * 43])).status_code == 404
    from alliance.agency.actions import do_set_client_view

    do_set_client_view(world.actor(world.clinician), world.own_client.pk, enabled=True)
    scored_response(world.own_episode, "phq9", 18, "", timezone.now() - timedelta(days=30))
    scored_response(world.own_episode, "phq9", 9, "", timezone.now() - timedelta(days=1))
    body = client.get(reverse("client_own", args=[token])).content.decode()
    assert "Low mood" in body
    assert "18 when you started, 9 most recently" in body
    assert "real improvement" in body  # 9 points down, reliable change is 6
    MeasureLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    assert client.get(reverse("client_own", args=[token])).status_code == 404


def test_the_review_records_the_plan_and_clears_the_drift_flag(world):
    actor = world.actor(world.clinician)
    Episode.objects.filter(pk=world.own_episode.pk).update(planned_sessions=2)
    for n in range(3):
        Encounter.objects.create(
            organisation=world.org,
            client=world.own_client,
            episode=world.own_episode,
            starts_at=timezone.now() - timedelta(days=10 - n),
            kind="therapy",
            attendance=Attendance.ATTENDED,
        )
    episode = Episode.objects.get(pk=world.own_episode.pk)
    assert [d.key for d in endings.ending_view(episode).drift] == ["beyond_plan"]
    with pytest.raises(ActionError, match="already attended"):
        endings.do_review_plan(actor, episode.pk, planned=2, note="", version=episode.version)
    endings.do_review_plan(
        actor, episode.pk, planned=8, note="Agreed 5 more", version=episode.version
    )
    episode.refresh_from_db()
    assert episode.planned_sessions == 8
    assert endings.ending_view(episode).drift == []


def test_the_ending_page_shows_readiness_with_its_numbers(world):
    start = timezone.now() - timedelta(days=60)
    for n, total in enumerate([18, 9, 7]):
        scored_response(world.own_episode, "phq9", total, "", start + timedelta(days=7 * n))
    page = signed_in(world.clinician).get(
        reverse("episode_ending", args=[world.own_client.pk, world.own_episode.pk])
    )
    body = page.content.decode()
    assert "Reliable improvement held" in body
    assert "PHQ-9 18 at intake, 9, 7 lately (reliable: 6)" in body
    assert "PHQ-9 7 (cut-off 10)" in body
