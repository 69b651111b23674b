"""Queue an email in the caller's transaction: it is sent only if the change commits."""

from __future__ import annotations

from django.utils import timezone

from alliance.notify.models import Message
from alliance.notify.tasks import deliver


def queue_email(*, organisation_id: int, kind: str, to: str, subject: str, body: str) -> Message:
    message = Message.objects.create(
        organisation_id=organisation_id,
        kind=kind,
        to=to,
        subject=subject,
        body=body,
        created_at=timezone.now(),
    )
    deliver.enqueue(message.pk)  # the database backend stores the job in the same transaction
    return message
