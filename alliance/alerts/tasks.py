"""Background jobs of the alerts app, run by the django-tasks worker."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def send_notices(alert_id: int, message_ids: list[int]) -> str:
    """Send the notices an alert's transaction wrote (one job per alert, not one per email);
    an email the mail server refuses is tried again by its own `deliver` job."""
    from alliance.notify.tasks import send_many

    sent = send_many(message_ids).count("sent")
    return f"{sent} of {len(message_ids)} notices sent for alert {alert_id}"


@task()
def notify_care_team(alert_id: int) -> str:
    """Jobs queued before the notices were written with their alert: write them now."""
    from alliance.alerts.actions import queue_notices
    from alliance.alerts.models import Alert

    with transaction.atomic():
        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None:
            return "no such alert"
        return f"{queue_notices(alert_id, alert)} notices queued"
