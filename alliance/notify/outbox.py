"""Queue an email in the caller's transaction: it is sent only if the change commits."""

from __future__ import annotations

from django.db import connection
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


def write_emails(
    *, organisation_id: int, kind: str, to: list[str], subject: str, body: str
) -> list[Message]:
    """One message per address, in one INSERT, in the caller's transaction: the caller queues
    the job that sends them (notify.tasks.send) in the same transaction, so none is left
    unsent. Each message gets its id."""
    now = timezone.now()
    messages = [
        Message(
            organisation_id=organisation_id,
            kind=kind,
            to=address,
            subject=subject,
            body=body,
            created_at=now,
        )
        for address in to
    ]
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        for message in messages:
            message.save()
        return messages
    return Message.objects.bulk_create(messages)
