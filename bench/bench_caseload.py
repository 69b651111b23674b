"""The caseload page at 10 and 200 clients: its queries, and its latency against a plain table.

Run: ``python bench/bench_caseload.py`` from the repository root. For each database (a fresh
SQLite file, then a fresh PostgreSQL database when one answers) a child process:

1. migrates, loads the demo clinic (200 clients) and gives two new clinicians a caseload of 10
   and of 200 of its clients; clients answer measures on a few sessions (the app's own
   ``do_create_link`` and ``submit``), so scores, alliance trends and alerts are on the page;
2. signs each clinician in with Django's test client and counts the statements of one
   ``GET /`` with ``CaptureQueriesContext`` (as ``assertNumQueries`` counts them: transaction
   statements included), naming the code that issued each one;
3. times ``GET /`` for the 200-client clinician against ``/bench/caseload-baseline/``: the same
   request path (session, sign-in, middleware) with a view that renders the first page of the
   same clients from one query as a plain table through a Django template. The two alternate.

BENCH lines: ``caseload_queries_10_vs_200`` (equal at both sizes), ``caseload_queries_total``
(every statement of the request, at most 6) and ``caseload_p50_ratio`` (page p50 / baseline
p50 at 200 clients, at most 2);
the PostgreSQL run adds the same names ending in ``_postgresql``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Database,
    bench_line,
    on_both_databases,
    percentile,
    run_child,
    setup_django,
)

SIZES = (10, 200)
MEASURED_SESSIONS = 2  # per open episode: links before and after the session, answered
QUERY_TARGET = 6
RATIO_TARGET = 2.0
WARMUP = 10
ROUNDS = 8
PER_ROUND = 15  # per side and round: 120 timed requests a side
MODULE = "bench.bench_caseload"
TRANSACTION_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


# --- the child process (Django set up with bench.bare_settings and one database) ------------


def child_measure() -> None:
    setup_django()
    from django.core.management import call_command

    from alliance.demo.generate import load_demo

    call_command("migrate", interactive=False, verbosity=0)
    began = time.perf_counter()
    load_demo(seed=2026, clients=max(SIZES))
    users = {size: _clinician_with_caseload(size) for size in SIZES}
    answered = _answer_measures(users[max(SIZES)])  # 0 when the demo brought its own scores
    setup_s = time.perf_counter() - began

    from django.test import Client

    result: dict[str, Any] = {"setup_s": setup_s, "answered": answered, "queries": {}}
    clients: dict[int, Client] = {}
    for size, user in users.items():
        client = Client()
        client.force_login(user)
        for _ in range(2):  # the first request writes the session's sign-in time
            _get(client, "/")
            _get(client, "/bench/caseload-baseline/")
        clients[size] = client
        result["queries"][str(size)] = _statements(client, "/")
        result.setdefault("baseline_queries", _statements(client, "/bench/caseload-baseline/"))

    big = clients[max(SIZES)]
    page: list[float] = []
    baseline: list[float] = []
    for _ in range(WARMUP):
        _get(big, "/")
        _get(big, "/bench/caseload-baseline/")
    for _ in range(ROUNDS):
        page += [_timed(big, "/") for _ in range(PER_ROUND)]
        baseline += [_timed(big, "/bench/caseload-baseline/") for _ in range(PER_ROUND)]
    result["page_p50"] = percentile(page, 0.5)
    result["baseline_p50"] = percentile(baseline, 0.5)
    result["rows_on_page"] = {
        str(size): _get(clients[size], "/").content.count(b'<th scope="row">') for size in SIZES
    }
    print(json.dumps(result))


def _clinician_with_caseload(size: int) -> Any:
    """A new clinician in the demo clinic who leads the care team of `size` of its clients."""
    from alliance.accounts.models import Discipline, Membership, Organisation, Role, User
    from alliance.clients.models import CareRole, CareTeamMember, Client
    from alliance.demo.generate import DEMO_SLUG

    org = Organisation.objects.get(slug=DEMO_SLUG)
    user = User.objects.create(username=f"bench{size}", first_name="Bench", last_name=str(size))
    membership = Membership.objects.create(
        user=user, organisation=org, role=Role.CLINICIAN, discipline=Discipline.PSYCHOLOGY
    )
    chosen = list(Client.objects.filter(organisation=org).order_by("pk")[:size])
    assert len(chosen) == size, f"the demo has {len(chosen)} clients; {size} are needed"
    CareTeamMember.objects.bulk_create(
        CareTeamMember(
            organisation=org,
            client=c,
            membership=membership,
            discipline=membership.discipline,
            care_role=CareRole.LEAD,
        )
        for c in chosen
    )
    return user


def _answer_measures(user: Any) -> int:
    """Clients answer before and after their latest sessions, through the app's own actions."""
    import random

    from django.db import transaction

    from alliance.accounts.actor import actor_for
    from alliance.clients.models import Attendance, Encounter, Phase
    from alliance.measurement import load_instrument
    from alliance.measures.actions import do_create_link, submit
    from alliance.measures.models import Response, Timing

    actor = actor_for(user)
    assert actor is not None
    if Response.objects.filter(client__care_team__membership=actor.membership).exists():
        return 0
    rng = random.Random(2026)
    encounters = (
        Encounter.objects.filter(client__care_team__membership=actor.membership)
        .exclude(episode__phase=Phase.CLOSED)
        .filter(attendance=Attendance.ATTENDED)
        .order_by("client_id", "starts_at", "pk")
    )
    by_client: dict[int, list[int]] = {}
    for encounter in encounters:
        by_client.setdefault(encounter.client_id, []).append(encounter.pk)
    answered = 0
    with transaction.atomic():
        for ids in by_client.values():
            for encounter_id in ids[-MEASURED_SESSIONS:]:
                for timing in (Timing.BEFORE, Timing.AFTER):
                    link, token = do_create_link(
                        actor, encounter_id, timing=timing, send_email=False
                    )
                    answers = {}
                    for instrument_id in link.instruments:
                        instrument = load_instrument(instrument_id)
                        answers[instrument_id] = {
                            item.link_id: rng.choice([o.score for o in item.options])
                            for item in instrument.items
                        }
                    submit(token, answers)
                    answered += 1
    return answered


def _get(client: Any, path: str) -> Any:
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered HTTP {answer.status_code}")
    return answer


def _timed(client: Any, path: str) -> float:
    began = time.perf_counter()
    _get(client, path)
    return time.perf_counter() - began


def _statements(client: Any, path: str) -> list[dict[str, str]]:
    """Every statement of one GET, with the Alliance (or bench) code that issued it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seen: list[tuple[str, str]] = []  # (first word, caller) of every statement sent by a cursor

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        seen.append((_first_word(sql), _caller()))
        return execute(sql, *args)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        _get(client, path)
    statements = []
    at = 0
    for query in captured.captured_queries:
        sql = query["sql"]
        caller = ""
        # A COMMIT (and on PostgreSQL a BEGIN) comes from the connection, not a cursor.
        if at < len(seen) and seen[at][0] == _first_word(sql):
            caller = seen[at][1]
            at += 1
        ms = f"{float(query['time']) * 1000:.1f}"
        statements.append({"sql": sql, "caller": caller, "ms": ms})
    return statements


def _first_word(sql: str) -> str:
    return sql.split(maxsplit=1)[0].upper() if sql.strip() else ""


def _caller() -> str:
    """The innermost frame in Alliance or bench code, outside the audit's own helpers."""
    root = str(Path(__file__).resolve().parents[1])
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if name.startswith(root) and "/.venv/" not in name and not name.endswith("common.py"):
            if name.endswith("bench_caseload.py"):
                continue
            return f"{Path(name).relative_to(root)}:{frame.name}"
    return "django"


# --- the report (no Django in this process) -----------------------------------------------


def kind_of(statement: dict[str, str]) -> str:
    """Which cost a statement belongs to: a fixed per-request cost, or the caseload's own."""
    sql, caller = statement["sql"], statement["caller"]
    word = sql.split(maxsplit=1)[0].upper() if sql.strip() else ""
    if "accounts_signinsession" in sql:
        return "fixed: session, with its user and role"
    if caller.startswith("alliance/audit/") or "audit_" in sql or word in TRANSACTION_WORDS:
        return "fixed: audit entries of the request's reads (and any transaction)"
    if "accounts_membership" in sql:
        return "fixed: actor (membership, teams)"
    if '"accounts_user"' in sql.split(" WHERE ")[0]:
        return "fixed: user"
    if caller.startswith("alliance/alerts/"):
        return "page: risk banner (on every page)"
    return f"caseload: {caller}"


def summarise(statements: list[dict[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for statement in statements:
        key = kind_of(statement)
        counts[key] = counts.get(key, 0) + 1
    return counts


def report(label: str, result: dict[str, Any]) -> list[str]:
    suffix = "" if label == "sqlite" else f"_{label}"
    queries: dict[str, list[dict[str, str]]] = result["queries"]
    small, big = (len(queries[str(size)]) for size in SIZES)
    rows = result["rows_on_page"]
    print(
        f"  set-up {result['setup_s']:.1f} s "
        f"({result['answered']} links answered beyond the demo's scores); "
        f"rows on the page: {rows[str(SIZES[0])]} and {rows[str(SIZES[1])]}"
    )
    owns = {}
    for size in SIZES:
        listed = queries[str(size)]
        own = sum(1 for s in listed if not kind_of(s).startswith("fixed"))
        owns[size] = own
        print(f"  GET / at {size} clients: {len(listed)} statements, {own} the caseload's own")
    print("  where the statements of GET / at 200 clients come from:")
    for key, n in sorted(summarise(queries[str(SIZES[1])]).items()):
        print(f"    {n:2d}  {key}")
    slowest = sorted(queries[str(SIZES[1])], key=lambda s: -float(s["ms"]))[:3]
    print(
        "  slowest statements at 200 clients: "
        + "; ".join(f"{s['ms']} ms {kind_of(s)} ({s['sql'][:40]}…)" for s in slowest)
    )
    print(f"  the baseline view: {len(result['baseline_queries'])} statements")
    page, base = result["page_p50"], result["baseline_p50"]
    ratio = page / base
    print(f"  p50 at 200 clients: page {page * 1000:.1f} ms, baseline {base * 1000:.1f} ms")
    own = owns[SIZES[1]]
    return [
        bench_line(f"caseload_queries_10_vs_200{suffix}", f"{small}/{big}", "equal", small == big),
        # Every statement of the request counts against the target: the session (with its user
        # and role), the page's own (rows, figures, alert kinds, risk banner), and the audit
        # entry of the read. The page's own are reported beside it for information.
        bench_line(
            f"caseload_queries_total{suffix}",
            str(big),
            str(QUERY_TARGET),
            big <= QUERY_TARGET and small == big,
        ),
        f"caseload_queries_own{suffix} {own} (fixed per request: {big - own})",
        bench_line(
            f"caseload_p50_ratio{suffix}",
            f"{ratio:.2f}",
            f"{RATIO_TARGET:.0f}",
            ratio <= RATIO_TARGET,
        ),
    ]


def measure(db: Database) -> list[str]:
    result = json.loads(run_child(MODULE, ["measure"], db, timeout=240).strip().splitlines()[-1])
    return report(db.label, result)


def main() -> int:
    return on_both_databases(measure, ["caseload_queries_total_postgresql"])


if __name__ == "__main__":
    if sys.argv[1:]:
        parser = argparse.ArgumentParser(prog=MODULE)
        parser.add_argument("job", choices=["measure"])
        parser.parse_args()
        child_measure()
        sys.exit(0)
    sys.exit(main())
