"""Who an alert's notices go to, and what each notice says, written in one statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alliance.accounts.models import Membership, Role, User
from alliance.alerts.actions import notice_recipients, queue_notices, write_notices
from alliance.alerts.models import Alert, Kind
from alliance.clients.models import CareRole, CareTeamMember
from alliance.notify.models import Message
from conftest import World, _care, _member


@pytest.fixture
def team(world):
    """own_client's care team: the lead and the consultant with addresses, a member without
    one, a member whose place has ended, and members who left the clinic or whose account is
    off."""
    User.objects.filter(pk=world.clinician.user_id).update(email="lead@clinic.invalid")
    User.objects.filter(pk=world.consultant.user_id).update(email="consultant@clinic.invalid")
    silent = _member(world.org, "silent", Role.CLINICIAN)
    _care(world.own_client, silent, CareRole.MEMBER)
    gone = _member(world.org, "gone", Role.CLINICIAN)
    User.objects.filter(pk=gone.user_id).update(email="gone@clinic.invalid")
    _care(world.own_client, gone, CareRole.MEMBER)
    CareTeamMember.objects.filter(membership=gone).update(ended_at=timezone.now())
    # Still placed on the team, but no longer a member of the clinic, or with the account off.
    left = _member(world.org, "left", Role.CLINICIAN)
    User.objects.filter(pk=left.user_id).update(email="left@clinic.invalid")
    _care(world.own_client, left, CareRole.MEMBER)
    Membership.objects.filter(pk=left.pk).update(is_active=False)
    off = _member(world.org, "off", Role.CLINICIAN)
    User.objects.filter(pk=off.user_id).update(email="off@clinic.invalid", is_active=False)
    _care(world.own_client, off, CareRole.MEMBER)
    # Someone else's lead, who must hear nothing of this client.
    User.objects.filter(pk=world.colleague.user_id).update(email="colleague@clinic.invalid")
    return world


def _alert(world: World, kind: str) -> Alert:
    alert = world.own_alert
    alert.kind = kind
    return alert


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Kind.RISK, ["lead@clinic.invalid", "consultant@clinic.invalid"]),
        (Kind.DETERIORATION, ["lead@clinic.invalid"]),
        (Kind.RUPTURE, ["lead@clinic.invalid"]),
    ],
)
def test_risk_reaches_the_whole_current_team_and_other_alerts_the_lead(team, kind, expected):
    alert = _alert(team, kind)
    assert notice_recipients(alert) == expected
    before = timezone.now()
    ids = write_notices(alert)
    written = Message.objects.filter(pk__in=ids).order_by("pk")
    assert sorted(m.to for m in written) == sorted(expected)
    assert len(ids) == len(expected) == Message.objects.count()
    for message in written:
        assert message.organisation_id == team.org.pk
        assert message.kind == f"alert.{kind}"
        assert message.subject == "Alliance: an alert needs your attention"
        assert f"new alert ({Kind(kind).label.lower()})" in message.body
        assert team.own_client.display_name not in message.body
        assert before - timedelta(seconds=5) <= message.created_at <= timezone.now()
        assert (message.sent_at, message.attempts, message.last_error) == (None, 0, "")


def test_no_recipient_writes_nothing_and_queues_no_job(team):
    from django_tasks_db.models import DBTaskResult

    User.objects.filter(pk=team.clinician.user_id).update(email="")
    alert = _alert(team, Kind.DETERIORATION)
    assert queue_notices(alert.pk, alert) == 0
    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_without_returning_the_notices_are_written_one_by_one_alike(team, monkeypatch):
    from django.db import connection

    # As on SQLite before 3.35, which has no INSERT ... RETURNING.
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    ids = write_notices(_alert(team, Kind.RISK))
    written = Message.objects.filter(pk__in=ids)
    assert sorted(m.to for m in written) == ["consultant@clinic.invalid", "lead@clinic.invalid"]
    assert {m.kind for m in written} == {"alert.risk"}


def test_the_notices_are_queued_with_the_one_job_that_sends_them(team):
    from django_tasks_db.models import DBTaskResult

    alert = _alert(team, Kind.RISK)
    assert queue_notices(alert.pk, alert) == 2

    [job] = DBTaskResult.objects.all()
    assert job.task_path == "alliance.alerts.tasks.send_notices"
    written = sorted(Message.objects.values_list("pk", flat=True))
    assert job.args_kwargs["args"][0] == alert.pk
    assert sorted(job.args_kwargs["args"][1]) == written


# --- the alert's write and its notices (one statement on PostgreSQL) -------------------------


def _jobs() -> list[tuple[int, list[int]]]:
    """(alert id, sorted message ids) of each queued notices job."""
    from django_tasks_db.models import DBTaskResult

    jobs = DBTaskResult.objects.filter(task_path="alliance.alerts.tasks.send_notices")
    return [(j.args_kwargs["args"][0], sorted(j.args_kwargs["args"][1])) for j in jobs]


def test_a_new_risk_answer_reopens_the_alert_and_tells_the_whole_team(team):
    from alliance.accounts.models import clinic_settings
    from alliance.alerts.actions import apply, assess
    from alliance.alerts.models import Status
    from alliance.alerts.tests.test_open_race import _risky

    alert = team.own_alert  # a risk alert, acknowledged since it opened
    Alert.objects.filter(pk=alert.pk).update(
        status=Status.ACKNOWLEDGED, acknowledged_at=timezone.now()
    )
    scored = _risky(team)
    findings = assess(team.own_episode.pk, [scored], clinic_settings(team.org.pk))

    with CaptureQueriesContext(connection) as captured:
        apply(findings)

    if connection.vendor == "postgresql":  # the alert and its notices in one statement
        [write] = [q["sql"] for q in captured.captured_queries if "notify_message" in q["sql"]]
        assert write.startswith("WITH done AS (UPDATE"), write
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_at, alert.version) == (Status.OPEN, None, 2)
    assert alert.response_id == scored.response.pk
    notices = dict(Message.objects.values_list("pk", "to"))
    assert sorted(notices.values()) == ["consultant@clinic.invalid", "lead@clinic.invalid"]
    assert _jobs() == [(alert.pk, sorted(notices))]


def test_a_risk_alert_resolved_meanwhile_makes_way_for_a_new_one_with_its_own_notices(team):
    from alliance.accounts.models import clinic_settings
    from alliance.alerts.actions import apply, assess
    from alliance.alerts.models import Status
    from alliance.alerts.tests.test_open_race import _risky

    old = team.own_alert
    scored = _risky(team)
    findings = assess(team.own_episode.pk, [scored], clinic_settings(team.org.pk))
    assert findings.open_ids == {"risk": old.pk}  # read before the clinician resolved it
    Alert.objects.filter(pk=old.pk).update(status=Status.RESOLVED, resolved_at=timezone.now())

    apply(findings)

    old.refresh_from_db()
    assert (old.status, old.version) == (Status.RESOLVED, 1)  # left as the clinician left it
    [new] = Alert.objects.filter(episode=team.own_episode).exclude(pk=old.pk)
    assert (new.kind, new.status, new.response_id) == (Kind.RISK, Status.OPEN, scored.response.pk)
    notices = sorted(Message.objects.values_list("pk", flat=True))
    assert len(notices) == 2  # the new alert's, none for the resolved one
    assert _jobs() == [(new.pk, notices)]
