"""The outcome report at 1,000,000 episodes: its figures and time against a hand-written GROUP BY,
and the memory it takes at 100,000 and at 1,000,000 episodes.

Run: ``python bench/bench_report.py`` from the repository root (``ALLIANCE_BENCH_REPORT_EPISODES``
sets the large size for a quick run; the small one is a tenth of it). For each database (a fresh
SQLite file, then a fresh PostgreSQL database when one answers) child processes:

1. migrate and load three synthetic clinics with ``alliance synth`` (alliance/reports/synth.py):
   ``bench-small`` (a tenth), ``bench-large`` (the full size) and ``bench-probe`` (20,000);
2. on SQLite, the probe clinic's report on a database never analysed, as a real clinic's is
   on its first report: the report then analyses the tables it reads itself, sampling a
   thousand rows of each index (alliance/reports/statistics.py), and this times that whole run;
3. ANALYZE (SQLite) or VACUUM ANALYZE (PostgreSQL, the state autovacuum leaves a loaded table
   in), the probe clinic's report again; then the report's path for the large clinic, by team,
   PHQ-9 with GAD-7, the last 12 months: ``query.run`` (the one statement) then
   ``report.build`` (suppression, rates and means) with the team labels, i.e. what a request
   costs without HTTP, the access check and the audit entry; and the baseline below. The
   figures must be identical (else FAIL). Then three rounds, each timing both, the order
   alternating, and the p50 of each side;
4. in two fresh processes, one per clinic, the Python process's memory during one report run:
   the tracemalloc peak (every Python allocation of the run: rows, labels, suppression) and the
   growth of the peak RSS (which on SQLite also holds the engine's page cache and sorter, as
   SQLite runs inside the process; on PostgreSQL the engine's memory is the server's).

The baseline is written here, independently of query.py: the same definitions in one
GROUP BY over plain joins, first and last scores found with MIN/MAX of the time and a join
back (no window functions), the outcome work done for finished episodes only (all the team
report needs; query.py computes first scores for every episode in scope, which its severity
grouping needs). Ties of time within one measure of one episode are not broken (synth has none).

BENCH lines: ``report_without_statistics_sqlite`` (the probe clinic's first report on the never-
analysed database over its report after a full ANALYZE, at most 2),
``report_figures_match_<db>``, ``report_vs_groupby_<db>`` (report p50 / baseline p50, at most 2)
and ``report_peak_memory_growth_<db>`` (tracemalloc peak at the large size over the peak at the
small size, at most 1.5). The query plans of both statements (EXPLAIN QUERY PLAN; EXPLAIN
ANALYZE on PostgreSQL) are written under the directory in ``ALLIANCE_BENCH_REPORT_PLANS``
(default: a new temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
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

MODULE = "bench.bench_report"
EPISODES = int(os.environ.get("ALLIANCE_BENCH_REPORT_EPISODES", "1000000"))
SMALL = max(1000, EPISODES // 10)
ROUNDS = 3
RATIO_TARGET = 2.0
MEMORY_TARGET = 1.5
PROBE = min(20_000, EPISODES)  # the clinic measured before the planner has statistics
SLUGS = {"small": "bench-small", "large": "bench-large", "probe": "bench-probe"}
SEEDS = {"small": 1, "large": 2, "probe": 3}
NO_STATISTICS_TIMEOUT = 900
SYNTH_TIMEOUT = 4 * 3600
MEASURE_TIMEOUT = 2 * 3600

BASELINE = """
WITH ep AS (
  SELECT e.id, COALESCE(c.team_id, 0) AS grp, e.ending_reason,
    CASE WHEN e.opened_on >= %(start)s AND e.opened_on <= %(end)s THEN 1 ELSE 0 END AS referral,
    CASE WHEN e.ended_on >= %(start)s AND e.ended_on <= %(end)s THEN 1 ELSE 0 END AS ended
  FROM clients_episode e JOIN clients_client c ON c.id = e.client_id
  WHERE e.organisation_id = %(org)s
    AND ((e.opened_on >= %(start)s AND e.opened_on <= %(end)s)
      OR (e.ended_on >= %(start)s AND e.ended_on <= %(end)s))
),
fin AS (
  SELECT ep.id FROM ep JOIN clients_encounter n ON n.episode_id = ep.id
  WHERE ep.ended = 1 AND n.kind = 'therapy' AND n.attendance = 'attended'
  GROUP BY ep.id HAVING COUNT(*) >= 2
),
ok AS (
  SELECT r.episode_id, r.instrument_id, r.total, r.submitted_at
  FROM fin JOIN measures_response r ON r.episode_id = fin.id
  LEFT JOIN clients_encounter n ON n.id = r.encounter_id
  WHERE r.instrument_id IN ('phq9', 'gad7') AND r.complete AND r.total IS NOT NULL
    AND (n.id IS NULL OR n.kind <> 'follow_up')
),
ends AS (
  SELECT episode_id, instrument_id, COUNT(*) AS n,
    MIN(submitted_at) AS t0, MAX(submitted_at) AS t1
  FROM ok GROUP BY episode_id, instrument_id
),
pair AS (
  SELECT d.episode_id,
    MAX(CASE WHEN d.instrument_id = 'phq9' THEN d.n END) AS pn,
    MAX(CASE WHEN d.instrument_id = 'phq9' THEN a.total END) AS pa,
    MAX(CASE WHEN d.instrument_id = 'phq9' THEN b.total END) AS pb,
    MAX(CASE WHEN d.instrument_id = 'gad7' THEN d.n END) AS gn,
    MAX(CASE WHEN d.instrument_id = 'gad7' THEN a.total END) AS ga,
    MAX(CASE WHEN d.instrument_id = 'gad7' THEN b.total END) AS gb
  FROM ends d
  JOIN ok a ON a.episode_id = d.episode_id AND a.instrument_id = d.instrument_id
    AND a.submitted_at = d.t0
  JOIN ok b ON b.episode_id = d.episode_id AND b.instrument_id = d.instrument_id
    AND b.submitted_at = d.t1
  GROUP BY d.episode_id
),
cls AS (
  SELECT episode_id, pb - pa AS dp, gb - ga AS dg,
    CASE WHEN pa >= %(pc)s OR ga >= %(gc)s THEN 1 ELSE 0 END AS case_a,
    CASE WHEN pb >= %(pc)s OR gb >= %(gc)s THEN 1 ELSE 0 END AS case_b,
    CASE WHEN pb - pa >= %(pr)s OR gb - ga >= %(gr)s THEN 1 ELSE 0 END AS det,
    CASE WHEN pa - pb >= %(pr)s OR ga - gb >= %(gr)s THEN 1 ELSE 0 END AS imp
  FROM pair WHERE pn >= 2 AND gn >= 2
),
al AS (
  SELECT r.episode_id, AVG(1.0 * r.total) AS mean
  FROM fin JOIN measures_response r ON r.episode_id = fin.id
  WHERE r.instrument_id = 'alliance-session-check' AND r.complete AND r.total IS NOT NULL
  GROUP BY r.episode_id
),
latest AS (
  SELECT g.goal_id, MAX(g.rated_at) AS t
  FROM fin JOIN agency_goalrating g ON g.episode_id = fin.id
  GROUP BY g.goal_id
),
gl AS (
  SELECT g.episode_id, MIN(g.rating) AS low
  FROM latest x JOIN agency_goalrating g ON g.goal_id = x.goal_id AND g.rated_at = x.t
  GROUP BY g.episode_id
)
SELECT ep.grp,
  SUM(ep.referral) AS referrals,
  SUM(ep.ended) AS ended,
  SUM(CASE WHEN ep.ended = 1 AND ep.ending_reason IN ('planned', 'mutual') THEN 1 ELSE 0 END)
    AS planned,
  SUM(CASE WHEN ep.ended = 1 AND ep.ending_reason = 'dropped_out' THEN 1 ELSE 0 END)
    AS unplanned,
  SUM(CASE WHEN ep.ended = 1
    AND ep.ending_reason NOT IN ('planned', 'mutual', 'dropped_out') THEN 1 ELSE 0 END)
    AS other_ending,
  COUNT(fin.id) AS finished,
  COUNT(cls.episode_id) AS measured,
  SUM(CASE WHEN cls.case_a = 1 THEN 1 ELSE 0 END) AS cases,
  SUM(CASE WHEN cls.case_a = 1 AND cls.case_b = 0 THEN 1 ELSE 0 END) AS recovered,
  SUM(CASE WHEN cls.imp = 1 AND cls.det = 0 THEN 1 ELSE 0 END) AS improved,
  SUM(CASE WHEN cls.det = 1 THEN 1 ELSE 0 END) AS deteriorated,
  SUM(CASE WHEN cls.case_a = 1 AND cls.case_b = 0 AND cls.imp = 1 AND cls.det = 0
    THEN 1 ELSE 0 END) AS reliably_recovered,
  COUNT(gl.episode_id) AS goals_rated,
  SUM(CASE WHEN gl.low >= %(goal)s THEN 1 ELSE 0 END) AS goals_met,
  COUNT(al.episode_id) AS alliance_rated,
  SUM(COALESCE(cls.dp, 0)) AS phq9_change,
  SUM(COALESCE(cls.dg, 0)) AS gad7_change,
  SUM(COALESCE(al.mean, 0)) AS alliance_mean
FROM ep
LEFT JOIN fin ON fin.id = ep.id
LEFT JOIN cls ON cls.episode_id = ep.id
LEFT JOIN al ON al.episode_id = ep.id
LEFT JOIN gl ON gl.episode_id = ep.id
GROUP BY ep.grp
ORDER BY ep.grp
"""


# --- child processes (Django set up with bench.bare_settings and one database) -------------


def _period() -> tuple[date, date]:
    from django.utils import timezone

    today = timezone.localdate()
    return today - timedelta(days=365), today


def _org(size: str) -> int:
    from alliance.accounts.models import Organisation

    return int(Organisation.objects.get(slug=SLUGS[size]).pk)


def _baseline_params(org: int, start: date, end: date) -> dict[str, Any]:
    from alliance.agency.readiness import GOAL_ATTAINED
    from alliance.measurement import load_instrument

    phq, gad = load_instrument("phq9"), load_instrument("gad7")
    pc, pr, gc, gr = (
        t.value if t is not None else 0
        for t in (
            phq.clinical_cutoff,
            phq.reliable_change,
            gad.clinical_cutoff,
            gad.reliable_change,
        )
    )
    return {
        "org": org,
        "start": start,
        "end": end,
        "pc": pc,
        "pr": pr,
        "gc": gc,
        "gr": gr,
        "goal": GOAL_ATTAINED,
    }


def baseline(org: int, start: date, end: date) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(BASELINE, _baseline_params(org, start, end))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _report(org: int, start: date, end: date) -> tuple[list[dict[str, Any]], Any]:
    """The report's path: the statement, then suppression, rates and means with the labels."""
    from alliance.reports.query import Query, Scope, run
    from alliance.reports.report import build
    from alliance.reports.service import labels

    query = Query(start, end, group_by="team", measure="paired")
    sums = run(query, Scope(org, None), seconds=MEASURE_TIMEOUT)  # no reader waiting here
    return sums, build(query, sums, labels(org, query.group_by))


def differences(report: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[str]:
    from alliance.reports.query import COUNTS, SUMS

    got = {str(r["grp"]): r for r in report}
    want = {str(r["grp"]): r for r in base}
    problems = [] if set(got) == set(want) else [f"groups {sorted(got)} != {sorted(want)}"]
    for key in sorted(set(got) & set(want)):
        for col in (*COUNTS, *SUMS):
            a, b = float(got[key][col] or 0), float(want[key][col] or 0)
            if abs(a - b) > 1e-6 * max(1.0, abs(b)):
                problems.append(f"team {key} {col}: report {a:g}, baseline {b:g}")
    return problems


def child_probe() -> None:
    """The probe clinic's report: run before and after the planner has statistics."""
    setup_django()
    org = _org("probe")
    start, end = _period()
    began = time.perf_counter()
    _report(org, start, end)
    print(json.dumps({"seconds": time.perf_counter() - began}))


def child_measure(plans: Path) -> None:
    setup_django()
    from django.db import connection

    from alliance.reports.query import Query, Scope, _expand, statement

    # Statistics, as autovacuum leaves them on PostgreSQL; on SQLite only ANALYZE makes them.
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    analyze_s = time.perf_counter() - began
    probe = _org("probe")
    began = time.perf_counter()
    _report(probe, *_period())
    probe_s = time.perf_counter() - began
    org = _org("large")
    start, end = _period()
    began = time.perf_counter()
    sums, built = _report(org, start, end)  # the first run of each reads the tables from disk
    first_report = time.perf_counter() - began
    began = time.perf_counter()
    base = baseline(org, start, end)
    first_baseline = time.perf_counter() - began
    report_s: list[float] = []
    baseline_s: list[float] = []
    for k in range(ROUNDS):
        for side in ("report", "baseline") if k % 2 == 0 else ("baseline", "report"):
            began = time.perf_counter()
            if side == "report":
                _report(org, start, end)
                report_s.append(time.perf_counter() - began)
            else:
                baseline(org, start, end)
                baseline_s.append(time.perf_counter() - began)
    text, params = statement(Query(start, end, group_by="team"), Scope(org, None))
    text, flat = _expand(text, params)
    _write_plans(plans, connection.vendor, text, flat, org, start, end)
    print(
        json.dumps(
            {
                "problems": differences(sums, base),
                "analyze_s": analyze_s,
                "probe_s": probe_s,
                "report_s": report_s,
                "baseline_s": baseline_s,
                "first_report_s": first_report,
                "first_baseline_s": first_baseline,
                "groups": len(sums),
                "hidden": built.hidden,
                "episodes_in_scope": sum(int(r["referrals"] or 0) for r in sums),
                "ended": sum(int(r["ended"] or 0) for r in sums),
            },
            default=str,
        )
    )


def _write_plans(
    plans: Path, vendor: str, text: str, flat: list[Any], org: int, start: date, end: date
) -> None:
    from django.db import connection

    plans.mkdir(parents=True, exist_ok=True)
    prefix = "EXPLAIN QUERY PLAN " if vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with connection.cursor() as cursor:
        cursor.execute(prefix + text, flat)
        rows = cursor.fetchall()
    lines = [" | ".join(str(c) for c in row) for row in rows]
    (plans / f"query-{vendor}.txt").write_text("\n".join(lines) + "\n")
    with connection.cursor() as cursor:
        cursor.execute(prefix + BASELINE, _baseline_params(org, start, end))
        rows = cursor.fetchall()
    lines = [" | ".join(str(c) for c in row) for row in rows]
    (plans / f"baseline-{vendor}.txt").write_text("\n".join(lines) + "\n")


def child_memory(size: str) -> None:
    """One report run in a fresh process: its Python allocations' peak and the RSS growth."""
    setup_django()
    import gc
    import resource
    import tracemalloc

    from alliance.reports.query import COUNTS, SUMS, Query, Scope, statement
    from alliance.reports.report import build

    org = _org(size)
    start, end = _period()
    query = Query(start, end, group_by="team", measure="paired")
    # Warm what every run shares, at any size: instrument files, suppression's imports (scipy).
    statement(query, Scope(org, None))
    counts = (60, 60, 40, 15, 5, 50, 45, 40, 20, 25, 3, 18, 20, 10, 20)  # nested as real ones
    fake = [
        {"grp": k, **dict(zip(COUNTS, counts, strict=True)), **dict.fromkeys(SUMS, 0)}
        for k in (1, 2)
    ]
    build(query, fake, {})
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    began = time.perf_counter()
    sums, built = _report(org, start, end)
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "size": size,
                "tracemalloc_peak": peak,
                "rss_growth_kib": rss_after - rss_before,
                "rss_peak_kib": rss_after,
                "seconds": seconds,
                "referrals": sum(int(r["referrals"] or 0) for r in sums),
                "groups": len(sums),
                "hidden": built.hidden,
            }
        )
    )


# --- the parent (no Django in this process) ------------------------------------------------


SUMMARY = re.compile(r"on \w+ in ([\d.]+) s \(([\d,]+) episodes/s; ([\d.]+) s CPU")


def populate(db: Database) -> dict[str, float]:
    """Migrate, then load the two clinics through the `alliance synth` command."""
    run_child("alliance.cli", ["migrate"], db, timeout=600)
    found: dict[str, float] = {}
    for size, episodes in (("small", SMALL), ("large", EPISODES), ("probe", PROBE)):
        out = run_child(
            "alliance.cli",
            [
                "synth",
                "--episodes",
                str(episodes),
                "--seed",
                str(SEEDS[size]),
                "--slug",
                SLUGS[size],
            ],
            db,
            timeout=SYNTH_TIMEOUT,
        )
        line = out.strip().splitlines()[-1]
        print(f"  {line}")
        match = SUMMARY.search(line)
        if match is None:
            raise RuntimeError(f"synth printed no summary: {line}")
        found[f"{size}_seconds"] = float(match.group(1))
        found[f"{size}_rate"] = float(match.group(2).replace(",", ""))
        found[f"{size}_cpu"] = float(match.group(3))
    return found


def measure(db: Database, plans: Path) -> list[str]:
    suffix = f"_{db.label}"
    began = time.perf_counter()
    loaded = populate(db)
    print(f"  loaded in {time.perf_counter() - began:.0f} s")
    no_statistics: float | None = None
    if db.label == "sqlite":
        try:
            out = run_child(MODULE, ["probe", "-"], db, timeout=NO_STATISTICS_TIMEOUT)
            no_statistics = float(json.loads(out.splitlines()[-1])["seconds"])
        except subprocess.TimeoutExpired:
            no_statistics = None
    result = json.loads(
        run_child(MODULE, ["measure", str(plans)], db, timeout=MEASURE_TIMEOUT).splitlines()[-1]
    )
    problems: list[str] = result["problems"]
    print(
        f"  last 12 months, by team, PHQ-9 with GAD-7: {result['groups']} teams, "
        f"{result['episodes_in_scope']} referrals, {result['ended']} ended, "
        f"{result['hidden']} cells suppressed"
    )
    if problems:
        print(f"  the report and the baseline differ ({len(problems)}):")
        for line in problems[:30]:
            print(f"    {line}")
    else:
        print("  the report's sums equal the baseline's, every column of every team")
    report_p50 = percentile(result["report_s"], 0.5)
    base_p50 = percentile(result["baseline_s"], 0.5)
    ratio = report_p50 / base_p50
    print(
        f"  first runs (cold): report {result['first_report_s']:.2f} s, "
        f"baseline {result['first_baseline_s']:.2f} s"
    )
    print(
        "  rounds: report "
        + ", ".join(f"{s:.2f}" for s in result["report_s"])
        + " s; baseline "
        + ", ".join(f"{s:.2f}" for s in result["baseline_s"])
        + " s"
    )
    print(f"  p50: report {report_p50:.2f} s, baseline {base_p50:.2f} s ({ratio:.2f}x)")
    memory = {}
    for size in ("small", "large"):
        memory[size] = json.loads(
            run_child(MODULE, ["memory", size], db, timeout=MEASURE_TIMEOUT).splitlines()[-1]
        )
        m = memory[size]
        print(
            f"  memory, {SLUGS[size]} ({m['referrals']} referrals in the period): "
            f"Python peak {m['tracemalloc_peak'] / 1024:.0f} KiB (tracemalloc), "
            f"peak RSS grew {m['rss_growth_kib'] / 1024:.1f} MiB to "
            f"{m['rss_peak_kib'] / 1024:.0f} MiB, in {m['seconds']:.2f} s"
        )
    growth = memory["large"]["tracemalloc_peak"] / memory["small"]["tracemalloc_peak"]
    lines = []
    analyze = "VACUUM ANALYZE" if db.label == "postgresql" else "ANALYZE"
    print(f"  {analyze} before the timed runs: {result['analyze_s']:.0f} s")
    if db.label == "sqlite":
        with_stats = result["probe_s"]
        shown = (
            f"{no_statistics:.2f} s"
            if no_statistics is not None
            else f"over {NO_STATISTICS_TIMEOUT} s"
        )
        print(
            f"  the report of a {PROBE}-episode clinic before ANALYZE: {shown}; "
            f"after: {with_stats:.2f} s"
        )
        slow = (no_statistics or float(NO_STATISTICS_TIMEOUT)) / with_stats
        lines.append(
            bench_line(
                "report_without_statistics_sqlite",
                f"{slow:.2f}x" if no_statistics is not None else "timeout",
                f"{RATIO_TARGET:.0f}x",
                no_statistics is not None and slow <= RATIO_TARGET,
            )
        )
    print(
        f"  synth: {loaded['large_rate']:,.0f} episodes/s at {EPISODES} "
        f"({loaded['large_seconds']:.0f} s, {loaded['large_cpu']:.0f} s CPU in its process), "
        f"{loaded['small_rate']:,.0f} at {SMALL}"
    )
    return [
        *lines,
        bench_line(
            f"report_figures_match{suffix}",
            "identical" if not problems else f"{len(problems)}-differences",
            "identical",
            not problems,
        ),
        bench_line(
            f"report_vs_groupby{suffix}",
            f"{ratio:.2f}x",
            f"{RATIO_TARGET:.0f}x",
            ratio <= RATIO_TARGET,
        ),
        bench_line(
            f"report_peak_memory_growth{suffix}",
            f"{growth:.2f}",
            f"{MEMORY_TARGET}x",
            growth <= MEMORY_TARGET,
        ),
    ]


def main() -> int:
    plans = Path(
        os.environ.get("ALLIANCE_BENCH_REPORT_PLANS") or tempfile.mkdtemp(prefix="report-plans-")
    )
    print(f"Episodes: {EPISODES} (and {SMALL} for the memory comparison); plans in {plans}")
    return on_both_databases(lambda db: measure(db, plans), ["report_vs_groupby_postgresql"])


if __name__ == "__main__":
    if sys.argv[1:]:
        parser = argparse.ArgumentParser(prog=MODULE)
        parser.add_argument("job", choices=["measure", "memory", "probe"])
        parser.add_argument("arg")
        args = parser.parse_args()
        if args.job == "measure":
            child_measure(Path(args.arg))
        elif args.job == "probe":
            child_probe()
        else:
            child_memory(args.arg)
        sys.exit(0)
    sys.exit(main())
