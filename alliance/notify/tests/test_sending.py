"""The worker's sending of outbox messages: together over one connection, each marked as it
goes, and a failure tried again later by a job of its own."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPServerDisconnected
from typing import Any, ClassVar

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import override_settings
from django.utils import timezone

from alliance.notify.models import Message
from alliance.notify.tasks import MAX_ATTEMPTS, send, send_many

HERE = "alliance.notify.tests.test_sending"


class Counting(EmailBackend):
    """The test outbox, counting the connections opened to it."""

    opened: ClassVar[int] = 0

    def open(self) -> bool:
        Counting.opened += 1
        return True


class Refusing(Counting):
    """A mail server that refuses one address."""

    def send_messages(self, messages: Any) -> int:
        if any("refused@" in to for m in messages for to in m.to):
            raise ConnectionResetError("refused")
        return int(super().send_messages(messages))


class Dropping(Counting):
    """A mail server that drops the connection once, after the first message, without the
    client noticing until it sends again (as smtplib leaves Django's SMTP backend)."""

    def open(self) -> bool:
        super().open()
        self.connected, self.dropped = True, False
        return True

    def close(self) -> None:
        self.connected = False

    def send_messages(self, messages: Any) -> int:
        if not getattr(self, "connected", False):
            self.open()  # as the SMTP backend opens a closed connection itself
        if self.dropped:
            raise SMTPServerDisconnected("the server went away")
        sent = int(super().send_messages(messages))
        self.dropped = Counting.opened == 1
        return sent


class Unreachable(EmailBackend):
    def open(self) -> bool:
        raise ConnectionRefusedError("no mail server")


@pytest.fixture
def outbox(world):
    Counting.opened = 0
    now = timezone.now()
    return [
        Message.objects.create(
            organisation=world.org,
            kind="alert.risk",
            to=to,
            subject="Alliance: an alert needs your attention",
            body="A client on your caseload has a new alert.",
            created_at=now,
        )
        for to in ("lead@clinic.invalid", "refused@clinic.invalid", "consultant@clinic.invalid")
    ]


def _retries() -> list[Any]:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(task_path="alliance.notify.tasks.deliver"))


@override_settings(EMAIL_BACKEND=f"{HERE}.Counting")
def test_a_job_sends_its_messages_over_one_connection_and_marks_each(outbox):
    first, _, third = outbox

    assert send_many([first.pk, third.pk]) == ["sent", "sent"]

    assert [m.to for m in mail.outbox] == [[first.to], [third.to]]
    assert Counting.opened == 1
    for message in Message.objects.filter(pk__in=[first.pk, third.pk]):
        assert message.sent_at is not None
        assert (message.attempts, message.last_error) == (1, "")
    assert _retries() == []


@override_settings(EMAIL_BACKEND=f"{HERE}.Counting")
def test_a_message_already_sent_is_not_sent_again(outbox):
    first = outbox[0]
    assert send(first.pk) == "sent"

    assert send_many([first.pk]) == ["already sent"]
    assert send(first.pk) == "already sent"

    assert len(mail.outbox) == 1
    assert Counting.opened == 1  # nothing left to send: no connection


@override_settings(EMAIL_BACKEND=f"{HERE}.Refusing")
def test_a_refused_message_is_tried_again_later_and_the_others_go(outbox):
    first, refused, third = outbox
    before = timezone.now()

    assert send_many([m.pk for m in outbox]) == ["sent", "failed", "sent"]

    assert sorted(m.to[0] for m in mail.outbox) == sorted([first.to, third.to])
    refused.refresh_from_db()
    assert (refused.sent_at, refused.attempts, refused.last_error) == (
        None,
        1,
        "ConnectionResetError",
    )
    [retry] = _retries()
    assert retry.args_kwargs["args"] == [refused.pk]
    assert retry.run_after >= before + timedelta(minutes=2)  # 2 ** attempts minutes


@override_settings(EMAIL_BACKEND=f"{HERE}.Unreachable")
def test_when_the_mail_server_cannot_be_reached_every_message_waits_for_a_retry(outbox):
    assert send_many([m.pk for m in outbox]) == ["failed"] * 3

    assert mail.outbox == []
    assert not Message.objects.filter(sent_at__isnull=False).exists()
    assert sorted(r.args_kwargs["args"][0] for r in _retries()) == sorted(m.pk for m in outbox)


@override_settings(EMAIL_BACKEND=f"{HERE}.Refusing")
def test_after_the_last_attempt_no_retry_is_queued(outbox):
    refused = outbox[1]
    Message.objects.filter(pk=refused.pk).update(attempts=MAX_ATTEMPTS - 1)

    assert send(refused.pk) == "failed"

    refused.refresh_from_db()
    assert refused.attempts == MAX_ATTEMPTS
    assert _retries() == []


@override_settings(EMAIL_BACKEND=f"{HERE}.Dropping")
def test_after_the_server_drops_the_connection_the_next_message_opens_a_new_one(outbox):
    first, second, third = outbox

    assert send_many([m.pk for m in outbox]) == ["sent", "failed", "sent"]

    assert [m.to for m in mail.outbox] == [[first.to], [third.to]]
    assert Counting.opened == 2
    [retry] = _retries()
    assert retry.args_kwargs["args"] == [second.pk]
