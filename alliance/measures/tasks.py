"""Background jobs of the measures app, run by the django-tasks worker."""

from __future__ import annotations

from django_tasks import task


@task()
def remind(link_id: int) -> str:
    from alliance.measures.actions import send_reminder

    return "sent" if send_reminder(link_id) else "not needed"
