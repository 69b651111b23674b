"""Background jobs of the alerts app, run by the django-tasks worker."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task


@task()
def notify_care_team(alert_id: int) -> str:
    from alliance.alerts.actions import write_notices
    from alliance.alerts.models import Alert

    with transaction.atomic():
        alert = Alert.objects.select_related("client").filter(pk=alert_id).first()
        if alert is None:
            return "no such alert"
        return f"{write_notices(alert)} notices queued"
