"""Background jobs, run by the django-tasks database worker (`alliance worker`)."""

from __future__ import annotations

from datetime import timedelta

from django.core.mail import send_mail
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
    message = Message.objects.filter(pk=message_id, sent_at__isnull=True).first()
    if message is None:
        return "already sent"
    attempts = message.attempts + 1
    try:
        send_mail(message.subject, message.body, None, [message.to])
    except Exception as exc:
        Message.objects.filter(pk=message.pk).update(
            attempts=attempts, last_error=type(exc).__name__[:300]
        )
        if attempts < MAX_ATTEMPTS:
            pause = timedelta(minutes=2**attempts)
            deliver.using(run_after=timezone.now() + pause).enqueue(message_id)
        return "failed"
    Message.objects.filter(pk=message.pk, sent_at__isnull=True).update(
        sent_at=timezone.now(), attempts=attempts, last_error=""
    )
    return "sent"
