"""Background jobs of the agency app, run by the django-tasks worker."""

from __future__ import annotations

from django_tasks import task


@task()
def send_check_in(check_in_id: int) -> str:
    from alliance.agency.endings import send_check_in as send

    return send(check_in_id)
