"""The client's submission under 16 concurrent connections, against a bare one-INSERT view.

Run: ``python bench/bench_submission.py`` from the repository root. For each database (a fresh
SQLite file in a temporary data directory, then a fresh PostgreSQL database when one answers):

1. a child process migrates, loads the demo clinic, creates the baseline's table and one
   measure link per submission (``do_create_link`` as the session's clinician), then analyses
   the tables (VACUUM ANALYZE on PostgreSQL, ANALYZE on SQLite);
2. ``alliance serve`` (``python -m alliance.cli serve``: gunicorn, 4 workers, gthread, 4 threads
   each, the background worker beside it) serves both sides, with ``bench.bare_settings``, which
   only adds the baseline URLs to Alliance's own;
3. 16 client threads, each on its own keep-alive connection, send POSTs: the client's complete
   PHQ-9 + GAD-7 answers to ``/m/<token>/`` (each link once), and the same form body to
   ``/bench/bare/``, which does one INSERT in its own transaction. Each connection fetched the
   form page once beforehand for its CSRF cookie and token; only the POSTs are timed. The two
   sides alternate in rounds after a warm-up, so a busy machine slows both alike. Each side
   sends 3,000 timed POSTs, so p99 is the 30th slowest: a disk flush that takes 0.2-0.8 s (on
   the machine this was written on, about once in eight minutes of writing) holds every writer
   in flight, at most 16 requests, and with 420 a side that one event decided p99. The warm-up
   gives each of the server's 16 threads about ten POSTs a side, so every database connection
   has prepared its statements and PostgreSQL has settled their plans (it plans a prepared
   statement anew for its first five runs) before the timing starts;
4. every POST must answer 200 with the thank-you page (or ``stored``), the server log must hold
   no "database is locked" and no traceback, and the database must hold every response.

The figures are p50 and p99 of the submission's latency over the bare view's (PASS: at most 3×
and 4×). A last line per figure reads ``BENCH submission_p50_ratio_<db> <ratio> target 3 PASS``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Database,
    bench_line,
    free_port,
    on_both_databases,
    percentile,
    process_group,
    run_child,
    setup_django,
)

CONCURRENCY = 16
WARMUP = 160  # per side, not counted: about ten per server thread (see the docstring)
ROUNDS = 10
PER_ROUND = 300  # per side and round: 3,000 timed requests a side
ALONE = 24  # per side, sent over one connection: the cost of a request with no contention
LINKS = WARMUP + ALONE + ROUNDS * PER_ROUND
SPARE_LINKS = 2  # for the one-submission query profile after the run
DEMO_CLIENTS = 420
INSTRUMENTS = ("phq9", "gad7")
RISK_SHARE = 0.1  # share of submissions that endorse a risk item, as some clients do
P50_TARGET = 3.0
P99_TARGET = 4.0
THANKS = b"Your answers are with your care team"
MODULE = "bench.bench_submission"


# --- child processes (Django set up with bench.bare_settings and one database) -------------


def child_setup(out: Path, links: int) -> None:
    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    from alliance.accounts.actor import Actor, actor_for
    from alliance.clients.models import Encounter, Phase
    from alliance.demo.generate import DEMO_SLUG, load_demo
    from alliance.measures.actions import do_create_link
    from alliance.measures.models import Timing
    from bench.bare_views import create_bare_table

    call_command("migrate", interactive=False, verbosity=0)
    load_demo(seed=2026, clients=DEMO_CLIENTS)
    create_bare_table()
    encounters = list(
        Encounter.objects.filter(organisation__slug=DEMO_SLUG)
        .exclude(episode__phase=Phase.CLOSED)
        .select_related("clinician__user")
        .order_by("episode_id", "starts_at", "pk")
    )
    # Round-robin over episodes, so requests in flight together belong to different clients.
    by_episode: dict[int, list[Encounter]] = {}
    for encounter in encounters:
        by_episode.setdefault(encounter.episode_id, []).append(encounter)
    spread: list[Encounter] = []
    depth = 0
    while len(spread) < links and any(len(e) > depth for e in by_episode.values()):
        spread += [e[depth] for e in by_episode.values() if len(e) > depth]
        depth += 1
    if len(spread) < links:
        raise SystemExit(f"the demo has {len(spread)} open encounters; {links} are needed")
    actors: dict[int, Actor] = {}
    tokens: list[str] = []
    with transaction.atomic():
        for encounter in spread[:links]:
            clinician = encounter.clinician
            assert clinician is not None
            if clinician.pk not in actors:
                found = actor_for(clinician.user, clinician.pk)
                assert found is not None
                actors[clinician.pk] = found
            _, token = do_create_link(
                actors[clinician.pk], encounter.pk, timing=Timing.BEFORE, send_email=False
            )
            tokens.append(token)
    # Statistics for the freshly loaded tables, as autovacuum leaves them once it has been by;
    # without this its first visit (within a minute of the load) fell inside the timed rounds.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    out.write_text(json.dumps({"tokens": tokens, "before": _stored()}), encoding="utf-8")


def child_check(token: str, body: str) -> None:
    """What the run stored, and the queries of one more submission, made in-process."""
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    stored = _stored()
    client = Client()
    client.get(f"/m/{token}/")
    began = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        answer = client.post(f"/m/{token}/", body, content_type="application/x-www-form-urlencoded")
    profile = {
        "status": answer.status_code,
        "thanks": THANKS in answer.content,
        "seconds": time.perf_counter() - began,
        "queries": [(q["sql"], float(q["time"])) for q in captured.captured_queries],
    }
    print(json.dumps({"stored": stored, "profile": profile}))


def _stored() -> dict[str, int]:
    """What the database holds of what submissions and the bare view write."""
    from alliance.alerts.models import Alert
    from alliance.audit.models import AuditEntry
    from alliance.measures.models import MeasureLink, Response
    from alliance.notify.models import Message
    from bench.bare_views import count_bare_rows

    return {
        "responses": Response.objects.count(),
        "completed_links": MeasureLink.objects.filter(completed_at__isnull=False).count(),
        "bare_rows": count_bare_rows(),
        "alerts": Alert.objects.count(),
        "messages": Message.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
    }


# --- the load generator (no Django in this process) ----------------------------------------


@dataclass
class Side:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Csrf:
    cookie: str
    token: str


def form_fields(rng: random.Random) -> dict[str, str]:
    """Complete answers to every item of PHQ-9 and GAD-7, as the client's form sends them."""
    from alliance.measurement import load_instrument

    risky = rng.random() < RISK_SHARE
    fields: dict[str, str] = {}
    for instrument_id in INSTRUMENTS:
        instrument = load_instrument(instrument_id)
        risk_ids = {r.link_id for r in instrument.risk_items}
        for item in instrument.items:
            scores = [o.score for o in item.options]
            value = rng.choice(scores)
            if item.link_id in risk_ids:
                value = max(scores) if risky else min(scores)
            fields[f"{instrument.id}__{item.link_id}"] = str(value)
    return fields


def fetch_csrf(port: int, token: str) -> Csrf:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", f"/m/{token}/")
        answer = conn.getresponse()
        page = answer.read().decode("utf-8")
        cookie = ""
        for header, value in answer.getheaders():
            if header.lower() == "set-cookie" and value.startswith("csrftoken="):
                cookie = value.split(";", 1)[0].split("=", 1)[1]
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if answer.status != 200 or not cookie or not found:
            raise RuntimeError(f"the form page gave no CSRF token (HTTP {answer.status})")
        return Csrf(cookie, found.group(1))
    finally:
        conn.close()


Job = tuple[str, str]  # path, form body


def run_phase(
    port: int,
    jobs: list[Job],
    csrf: list[Csrf],
    check: Callable[[int, bytes], bool],
    side: Side,
    connections: int = CONCURRENCY,
) -> float:
    """Send every job over `connections` keep-alive connections; the phase's wall time."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    start = threading.Barrier(connections + 1)

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf[slot].cookie}",
        }
        try:
            conn.connect()
            start.wait()
            while True:
                with lock:
                    if not queue:
                        return
                    path, body = queue.pop()
                payload = f"{body}&csrfmiddlewaretoken={csrf[slot].token}".encode()
                began = time.perf_counter()
                try:
                    conn.request("POST", path, body=payload, headers=headers)
                    answer = conn.getresponse()
                    content = answer.read()
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        side.failures.append(f"{path[:12]}…: {type(exc).__name__}: {exc}")
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    continue
                elapsed = time.perf_counter() - began
                with lock:
                    side.latencies.append(elapsed)
                    if not check(answer.status, content):
                        side.failures.append(f"{path[:12]}…: HTTP {answer.status}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def wait_ready(port: int, server_alive: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_alive():
            raise RuntimeError("the server stopped during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s")


@dataclass
class Outcome:
    label: str
    submission: Side
    bare: Side
    problems: list[str]
    server_ms: dict[str, float]
    throughput: dict[str, float]
    alone: dict[str, float]  # p50 seconds over one connection


def measure(db: Database) -> Outcome:
    rng = random.Random(20261123)
    with tempfile.TemporaryDirectory(prefix="alliance-bench-run-") as tmp:
        tokens_file = Path(tmp) / "tokens.json"
        log_path = Path(tmp) / "server.log"
        began = time.perf_counter()
        run_child(MODULE, ["setup", str(tokens_file), str(LINKS + SPARE_LINKS)], db, timeout=180)
        made = json.loads(tokens_file.read_text(encoding="utf-8"))
        tokens: list[str] = made["tokens"]
        before: dict[str, int] = made["before"]
        spare = tokens[LINKS:]
        tokens = tokens[:LINKS]
        print(f"  set-up: demo clinic, {len(tokens)} links ({time.perf_counter() - began:.1f} s)")
        port = free_port()
        submission, bare = Side("submission"), Side("bare")
        walls = {"submission": 0.0, "bare": 0.0}
        command = [sys.executable, "-m", "alliance.cli", "serve", "--host", "127.0.0.1"]
        with (
            log_path.open("wb") as log,
            process_group([*command, "--port", str(port)], db, log) as server,
        ):
            wait_ready(port, lambda: server.poll() is None)
            csrf = [fetch_csrf(port, tokens[slot]) for slot in range(CONCURRENCY)]
            sub_jobs = [(f"/m/{t}/", urlencode(form_fields(rng))) for t in tokens]
            bare_jobs = [("/bench/bare/", urlencode(form_fields(rng))) for _ in tokens]

            def is_thanks(status: int, body: bytes) -> bool:
                return status == 200 and THANKS in body

            def is_stored(status: int, body: bytes) -> bool:
                return status == 200 and body == b"stored\n"

            warm_sub, warm_bare = Side("warm-up"), Side("warm-up")
            run_phase(port, bare_jobs[:WARMUP], csrf, is_stored, warm_bare)
            run_phase(port, sub_jobs[:WARMUP], csrf, is_thanks, warm_sub)
            alone_sub, alone_bare = Side("alone"), Side("alone")
            part = slice(WARMUP, WARMUP + ALONE)
            run_phase(port, bare_jobs[part], csrf, is_stored, alone_bare, connections=1)
            run_phase(port, sub_jobs[part], csrf, is_thanks, alone_sub, connections=1)
            first = WARMUP + ALONE
            for r in range(ROUNDS):
                part = slice(first + r * PER_ROUND, first + (r + 1) * PER_ROUND)
                walls["bare"] += run_phase(port, bare_jobs[part], csrf, is_stored, bare)
                walls["submission"] += run_phase(port, sub_jobs[part], csrf, is_thanks, submission)
            submission.failures += warm_sub.failures + alone_sub.failures
            bare.failures += warm_bare.failures + alone_bare.failures
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        problems = scan_log(log_text)
        if problems:
            # Kept for a look: the run's directory goes when it ends.
            kept = Path(tempfile.gettempdir()) / f"alliance-bench-server-{db.label}.log"
            kept.write_text(log_text, encoding="utf-8")
            problems.append(f"the server log is kept at {kept}")
        server_ms = server_side_ms(log_text)
        checked = json.loads(
            # "--": a token may begin with "-", which argparse would take for an option.
            run_child(
                MODULE, ["check", "--", spare[0], urlencode(form_fields(rng))], db, timeout=120
            )
        )
    stored = checked["stored"]
    expected = {
        "responses": LINKS * len(INSTRUMENTS),
        "completed_links": LINKS,
        "bare_rows": LINKS,
    }
    for key, want in expected.items():
        if stored[key] - before[key] != want:
            problems.append(f"the run stored {stored[key] - before[key]} {key}, expected {want}")
    profile = checked["profile"]
    if profile["status"] != 200 or not profile["thanks"]:
        problems.append(f"the profiled submission answered HTTP {profile['status']}")
    new = {key: stored[key] - before[key] for key in stored}
    print(
        f"  the run stored: {new['responses']} responses, {new['completed_links']} links "
        f"completed, {new['alerts']} alerts, {new['messages']} queued emails, "
        f"{new['audit_entries']} audit entries, {new['bare_rows']} bare rows"
    )
    print_profile(profile["queries"], profile["seconds"])
    throughput = {
        "submission": len(submission.latencies) / walls["submission"],
        "bare": len(bare.latencies) / walls["bare"],
    }
    alone = {
        "submission": percentile(alone_sub.latencies, 0.5),
        "bare": percentile(alone_bare.latencies, 0.5),
    }
    return Outcome(db.label, submission, bare, problems, server_ms, throughput, alone)


def scan_log(text: str) -> list[str]:
    problems = []
    locked = len(re.findall(r"database is locked", text, flags=re.IGNORECASE))
    if locked:
        problems.append(f'the server log shows "database is locked" {locked} time(s)')
    tracebacks = text.count("Traceback (most recent call last)")
    if tracebacks:
        problems.append(
            f"the server log shows {tracebacks} traceback(s), ending in: "
            + "; ".join(sorted(set(_exceptions(text)))[:3])
        )
    bad = re.findall(r'"POST (?:/m/|/bench/bare/)\S*" (\d{3}) ', text)
    non_200 = [code for code in bad if code != "200"]
    if non_200:
        problems.append(f"the access log shows {len(non_200)} POST(s) not answered 200")
    return problems


def _exceptions(text: str) -> list[str]:
    """The exception line that ends each traceback in the log (its first unindented line)."""
    found = []
    for part in text.split("Traceback (most recent call last)")[1:]:
        lines = part.splitlines()[1:]
        found += [line.strip()[:160] for line in lines if line and not line[0].isspace()][:1]
    return found


def server_side_ms(text: str) -> dict[str, float]:
    """p50 of the time gunicorn logged for each side's POSTs (excludes queueing on the socket)."""
    sides: dict[str, list[float]] = {"submission": [], "bare": []}
    for path, ms in re.findall(r'"POST (/m/|/bench/bare/)\S*" 200 \S+ (\d+)ms', text):
        sides["submission" if path == "/m/" else "bare"].append(float(ms))
    return {name: percentile(values, 0.5) for name, values in sides.items() if values}


def print_profile(queries: list[tuple[str, float]], seconds: float) -> None:
    """The statements of one submission POST, grouped by what they touch, and the slowest."""
    groups: dict[str, list[float]] = {}
    for sql, spent in queries:
        words = sql.split()
        verb = words[0].upper() if words else "?"
        table = next((w.strip('"`') for w in _after(words, ("FROM", "INTO", "UPDATE"))), "")
        groups.setdefault(f"{verb} {table}".strip(), []).append(spent)
    listed = ", ".join(
        f"{key} ×{len(times)}" if len(times) > 1 else key for key, times in sorted(groups.items())
    )
    in_sql = sum(spent for _, spent in queries)
    print(
        f"  one more submission POST, in-process, alone: {seconds * 1000:.0f} ms, "
        f"{in_sql * 1000:.0f} ms of it in {len(queries)} statements: {listed}"
    )
    slowest = sorted(groups.items(), key=lambda item: -sum(item[1]))[:4]
    print(
        "  where its SQL time goes: "
        + ", ".join(f"{key} {sum(times) * 1000:.0f} ms" for key, times in slowest)
    )


def _after(words: list[str], keywords: tuple[str, ...]) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w.upper() in keywords][:1]


def report(outcome: Outcome) -> list[str]:
    lines = []
    for side in (outcome.submission, outcome.bare):
        p50, p99 = percentile(side.latencies, 0.5), percentile(side.latencies, 0.99)
        print(
            f"  {side.name:<10} p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
            f"max {max(side.latencies) * 1000:7.1f} ms   "
            f"{outcome.throughput[side.name]:6.1f} req/s   server-side p50 "
            f"{outcome.server_ms.get(side.name, float('nan')):.0f} ms   "
            f"alone p50 {outcome.alone[side.name] * 1000:.1f} ms"
        )
    for side in (outcome.submission, outcome.bare):
        if side.failures:
            outcome.problems.append(
                f"{len(side.failures)} {side.name} POST(s) failed, e.g. {side.failures[0]}"
            )
    for problem in outcome.problems:
        print(f"  PROBLEM: {problem}")
    sound = not outcome.problems
    for name, fraction, target in (("p50", 0.5, P50_TARGET), ("p99", 0.99, P99_TARGET)):
        ratio = percentile(outcome.submission.latencies, fraction) / percentile(
            outcome.bare.latencies, fraction
        )
        lines.append(
            bench_line(
                f"submission_{name}_ratio_{outcome.label}",
                f"{ratio:.2f}",
                f"{target:.0f}",
                sound and ratio <= target,
            )
        )
    return lines


def main() -> int:
    print(f"{CONCURRENCY} connections; {ROUNDS * PER_ROUND} timed POSTs a side after {WARMUP}")
    return on_both_databases(
        lambda db: report(measure(db)),
        [f"submission_{name}_ratio_postgresql" for name in ("p50", "p99")],
        sqlite_title="SQLite (fresh file, WAL, synchronous=FULL, BEGIN IMMEDIATE)",
    )


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=MODULE)
    sub = parser.add_subparsers(dest="job", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("out", type=Path)
    setup.add_argument("links", type=int)
    check = sub.add_parser("check")
    check.add_argument("token")
    check.add_argument("body")
    args = parser.parse_args(argv)
    if args.job == "setup":
        child_setup(args.out, args.links)
    else:
        child_check(args.token, args.body)
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]) if sys.argv[1:] else main())
