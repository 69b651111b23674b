"""Bench-only baseline views: the least a request of each kind could do.

- ``bare_insert``: one durable INSERT in its own transaction (on SQLite ``BEGIN IMMEDIATE``
  and a ``synchronous=FULL`` commit, as for every Alliance write), answered with a short text.
- ``caseload_baseline``: the first page of the signed-in clinician's clients from one query,
  rendered as a plain table through a Django template.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alliance.accounts.actor import require_actor
from alliance.clients.access import visible_clients
from alliance.web.views import PAGE_SIZE

BARE_TABLE = "bench_bare_insert"

BASELINE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Clients</title></head><body>
<table><thead><tr><th>Client</th><th>Record</th></tr></thead><tbody>
{% for c in rows %}<tr><th><a href="{% url 'client' c.pk %}">{{ c.display_name }}</a></th>
<td>{{ c.record_number }}</td></tr>
{% endfor %}</tbody></table></body></html>
"""


@cache
def _baseline_template() -> Any:
    # Compiled once, as Django's cached template loader keeps the caseload's own template.
    return engines["django"].from_string(BASELINE_TEMPLATE)


def create_bare_table() -> None:
    """The baseline's table, created with raw SQL at set-up (no migration: bench only)."""
    key = (
        "id BIGSERIAL PRIMARY KEY"
        if connection.vendor == "postgresql"
        else "id INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} "
            f"({key}, at VARCHAR(40) NOT NULL, note VARCHAR(100) NOT NULL)"
        )


def count_bare_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {BARE_TABLE}")  # noqa: S608
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@csrf_exempt
@require_POST
def bare_insert(request: HttpRequest) -> HttpResponse:
    note = request.POST.get("note", "")[:100]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BARE_TABLE} (at, note) VALUES (%s, %s)",  # noqa: S608
            [timezone.now().isoformat(), note],
        )
    return HttpResponse("stored\n", content_type="text/plain; charset=utf-8")


@login_required
def caseload_baseline(request: HttpRequest) -> HttpResponse:
    actor = require_actor(request)
    rows = list(
        visible_clients(actor)
        .order_by("display_name", "pk")
        .values("pk", "display_name", "record_number")[:PAGE_SIZE]
    )
    return HttpResponse(_baseline_template().render({"rows": rows}))
