"""Background jobs, run by the django-tasks database worker (`alliance worker`)."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django_tasks import task

from alliance.notify.models import Message

MAX_ATTEMPTS = 5


@task()
def deliver(message_id: int) -> str:
    """Send one outbox message; retried with growing pauses if the mail server fails."""
    return send(message_id)


def send(message_id: int) -> str:
    """Send one outbox message now, in whichever job holds it; on failure a `deliver` job tries
    again after a pause, up to MAX_ATTEMPTS."""
    return send_many([message_id])[0]


def send_many(message_ids: list[int]) -> list[str]:
    """Send these outbox messages, read together and sent over one connection to the mail
    server; what became of each ("sent", "failed", "already sent"), in order. Each is marked
    sent as soon as it has gone, so a job stopped halfway leaves only the rest unsent."""
    found = {m.pk: m for m in Message.objects.filter(pk__in=message_ids, sent_at__isnull=True)}
    if not found:
        return ["already sent"] * len(message_ids)
    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:  # the mail server cannot be reached: each message fails alike
        _close(connection)
        return [_failed(found[pk], exc) if pk in found else "already sent" for pk in message_ids]
    try:
        return [
            _send(found[pk], connection) if pk in found else "already sent" for pk in message_ids
        ]
    finally:
        _close(connection)


def _send(message: Message, connection: BaseEmailBackend) -> str:
    try:
        EmailMessage(
            message.subject, message.body, None, [message.to], connection=connection
        ).send()
    except Exception as exc:
        # The connection may be broken (the server dropped it): the next message opens anew.
        _close(connection)
        return _failed(message, exc)
    Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(
        sent_at=timezone.now(), attempts=message.attempts + 1, last_error=""
    )
    return "sent"


def _close(connection: BaseEmailBackend) -> None:
    """Close the connection; a failure to say goodbye changes nothing already sent (each
    message was marked as it went)."""
    with suppress(Exception):
        connection.close()


def _failed(message: Message, exc: Exception) -> str:
    """Note the failure; a `deliver` job tries again after a growing pause, up to MAX_ATTEMPTS."""
    attempts = message.attempts + 1
    Message.objects.filter(pk=message.pk).update(
        attempts=attempts, last_error=type(exc).__name__[:300]
    )
    if attempts < MAX_ATTEMPTS:
        pause = timedelta(minutes=2**attempts)
        deliver.using(run_after=timezone.now() + pause).enqueue(message.pk)
    return "failed"
