"""The outcome report's figures, aggregated by the database in one statement.

Nothing per episode reaches Python: the statement reads each episode in scope once, works out
its outcome classes in SQL, and returns one row of sums per group (a team, a clinician, a
discipline or an intake-severity band). The same text runs on SQLite and PostgreSQL; every value
is a parameter, and the only text that varies is chosen from fixed fragments below.

Definitions (NHS Talking Therapies, as alliance/measurement/talking_therapies.py implements them
for one episode; the thresholds come from the instrument files and the sources they cite):

- referral: an episode opened in the period;
- ended: an episode whose treatment ended in the period (`Episode.ended_on`: discharge to
  follow-up, or closing);
- finished a course of treatment: ended in the period after two or more attended therapy
  sessions (assessment and follow-up contacts are not treatment sessions);
- measured: finished, with a first and a last score (two or more) on the report's measure, taken
  in treatment (follow-up check-ins are left out);
- case at intake: the first score at or above the caseness cut-off (for the PHQ-9 with GAD-7
  pair, on either measure);
- recovered: a case at intake and not a case at the last score;
- reliable improvement / deterioration: the score moved by at least the reliable-change value
  (for the pair: deterioration on either measure; improvement on either without deterioration
  on the other);
- reliable recovery: recovered and reliably improved;
- goals met: every rated goal's latest rating is 8 or more (alliance/agency/readiness.py);
- lead clinician (and their discipline): the client's lead place still open on the care team
  (after a handover, the new lead; after a colleague's cover as a second lead, the lead who
  stayed), else the last one written (a care team closed with the episode);
- endings: planned (planned, or mutually agreed early), unplanned (the client stopped
  attending), other (referred on, other).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import OperationalError, connection

from alliance.agency.readiness import GOAL_ATTAINED
from alliance.alerts.actions import ALLIANCE_CHECK
from alliance.clients.models import Attendance, EncounterKind, EndingReason
from alliance.measurement import load_instrument
from alliance.reports import statistics

MEASURES = {
    "paired": "PHQ-9 with GAD-7 (NHS Talking Therapies)",
    "phq9": "PHQ-9",
    "gad7": "GAD-7",
}
GROUPS = {
    "organisation": "Whole clinic",
    "team": "Team",
    "clinician": "Lead clinician",
    "discipline": "Discipline",
    "severity": "Intake severity (PHQ-9)",
}
# The count columns, in the order the report shows them.
COUNTS = (
    "referrals",
    "ended",
    "planned",
    "unplanned",
    "other_ending",
    "finished",
    "measured",
    "cases",
    "recovered",
    "improved",
    "deteriorated",
    "reliably_recovered",
    "goals_rated",
    "goals_met",
    "alliance_rated",
)
# Sums behind the means; each mean's people are counted by the named count column.
SUMS = ("phq9_change", "gad7_change", "alliance_mean")


@dataclass(frozen=True)
class Scope:
    """Whose episodes the report reads: one organisation, and its teams the actor may see.

    `teams` None means every team and the clients with no team (a clinic admin's view).
    """

    organisation_id: int
    teams: Sequence[int] | None


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    group_by: str = "team"
    measure: str = "paired"
    team: int | None = None
    discipline: str = ""


def _thresholds(instrument: str) -> tuple[int, int]:
    found = load_instrument(instrument)
    assert found.clinical_cutoff is not None
    assert found.reliable_change is not None
    return found.clinical_cutoff.value, found.reliable_change.value


def _outcome_sql(measure: str) -> dict[str, str]:
    """SQL boolean expressions over one episode's first (a) and last (b) scores."""
    phq = {
        "has": "phq_n >= 2",
        "case_a": "phq_a >= %(phq_cut)s",
        "case_b": "phq_b >= %(phq_cut)s",
        "imp": "phq_a - phq_b >= %(phq_rc)s",
        "det": "phq_b - phq_a >= %(phq_rc)s",
    }
    gad = {
        "has": "gad_n >= 2",
        "case_a": "gad_a >= %(gad_cut)s",
        "case_b": "gad_b >= %(gad_cut)s",
        "imp": "gad_a - gad_b >= %(gad_rc)s",
        "det": "gad_b - gad_a >= %(gad_rc)s",
    }
    if measure == "phq9":
        return phq
    if measure == "gad7":
        return gad
    det = f"({phq['det']} OR {gad['det']})"
    return {
        "has": f"({phq['has']} AND {gad['has']})",
        "case_a": f"({phq['case_a']} OR {gad['case_a']})",
        "case_b": f"({phq['case_b']} OR {gad['case_b']})",
        "imp": f"(({phq['imp']} OR {gad['imp']}) AND NOT {det})",
        "det": det,
    }


GROUP_SQL = {
    "organisation": "0",
    "team": "COALESCE(ep.team_id, 0)",
    "clinician": "COALESCE(ep.clinician_id, 0)",
    "discipline": "COALESCE(ep.discipline, '')",
    "severity": "{severity}",
}

STATEMENT = """
WITH ep AS (
  SELECT e.id, e.opened_on, e.ended_on, e.ending_reason, c.team_id,
    lp.membership_id AS clinician_id,
    COALESCE(NULLIF(lp.discipline, ''), NULLIF(lm.discipline, '')) AS discipline
  FROM clients_episode e
  JOIN clients_client c ON c.id = e.client_id
  LEFT JOIN clients_careteammember lp ON lp.id = (
    SELECT x.id FROM clients_careteammember x
    WHERE x.client_id = e.client_id AND x.care_role = 'lead'
    ORDER BY CASE WHEN x.ended_at IS NULL THEN 0 ELSE 1 END, x.id DESC
    LIMIT 1)
  LEFT JOIN accounts_membership lm ON lm.id = lp.membership_id
  WHERE e.organisation_id = %(org)s
    AND ((e.opened_on >= %(start)s AND e.opened_on <= %(end)s)
      OR (e.ended_on >= %(start)s AND e.ended_on <= %(end)s))
    {scope}
),
att AS (
  SELECT n.episode_id, COUNT(*) AS sessions
  FROM clients_encounter n JOIN ep ON ep.id = n.episode_id
  WHERE n.kind = %(therapy)s AND n.attendance = %(attended)s
  GROUP BY n.episode_id
),
sc AS (
  SELECT r.episode_id, r.instrument_id, r.total,
    ROW_NUMBER() OVER (PARTITION BY r.episode_id, r.instrument_id
                       ORDER BY r.submitted_at, r.id) AS k_first,
    ROW_NUMBER() OVER (PARTITION BY r.episode_id, r.instrument_id
                       ORDER BY r.submitted_at DESC, r.id DESC) AS k_last
  FROM measures_response r
  JOIN ep ON ep.id = r.episode_id
  LEFT JOIN clients_encounter n ON n.id = r.encounter_id
  WHERE r.complete AND r.total IS NOT NULL AND r.instrument_id IN ('phq9', 'gad7')
    AND (n.kind IS NULL OR n.kind <> %(follow_up)s)
),
fl AS (
  SELECT episode_id,
    MAX(CASE WHEN instrument_id = 'phq9' AND k_first = 1 THEN total END) AS phq_a,
    MAX(CASE WHEN instrument_id = 'phq9' AND k_last = 1 THEN total END) AS phq_b,
    SUM(CASE WHEN instrument_id = 'phq9' THEN 1 ELSE 0 END) AS phq_n,
    MAX(CASE WHEN instrument_id = 'gad7' AND k_first = 1 THEN total END) AS gad_a,
    MAX(CASE WHEN instrument_id = 'gad7' AND k_last = 1 THEN total END) AS gad_b,
    SUM(CASE WHEN instrument_id = 'gad7' THEN 1 ELSE 0 END) AS gad_n
  FROM sc GROUP BY episode_id
),
al AS (
  SELECT r.episode_id, AVG(1.0 * r.total) AS mean
  FROM measures_response r JOIN ep ON ep.id = r.episode_id
  WHERE r.instrument_id = %(alliance)s AND r.complete AND r.total IS NOT NULL
  GROUP BY r.episode_id
),
gl AS (
  SELECT g.episode_id, COUNT(*) AS rated,
    MIN(g.rating) AS lowest
  FROM (
    SELECT q.episode_id, q.goal_id, q.rating,
      ROW_NUMBER() OVER (PARTITION BY q.goal_id ORDER BY q.rated_at DESC, q.id DESC) AS k
    FROM agency_goalrating q JOIN ep ON ep.id = q.episode_id
  ) g
  WHERE g.k = 1
  GROUP BY g.episode_id
),
per AS (
  SELECT {group} AS grp,
    CASE WHEN ep.opened_on >= %(start)s AND ep.opened_on <= %(end)s THEN 1 ELSE 0 END
      AS referral,
    CASE WHEN ep.ended_on >= %(start)s AND ep.ended_on <= %(end)s THEN 1 ELSE 0 END AS ended,
    CASE WHEN ep.ended_on >= %(start)s AND ep.ended_on <= %(end)s
      AND COALESCE(att.sessions, 0) >= 2 THEN 1 ELSE 0 END AS finished,
    ep.ending_reason, fl.phq_a, fl.phq_b, fl.phq_n, fl.gad_a, fl.gad_b, fl.gad_n,
    al.mean AS alliance, gl.rated AS goals, gl.lowest AS goal_low
  FROM ep
  LEFT JOIN att ON att.episode_id = ep.id
  LEFT JOIN fl ON fl.episode_id = ep.id
  LEFT JOIN al ON al.episode_id = ep.id
  LEFT JOIN gl ON gl.episode_id = ep.id
)
SELECT grp,
  SUM(referral) AS referrals,
  SUM(ended) AS ended,
  SUM(CASE WHEN ended = 1 AND ending_reason IN %(planned)s THEN 1 ELSE 0 END) AS planned,
  SUM(CASE WHEN ended = 1 AND ending_reason IN %(unplanned)s THEN 1 ELSE 0 END) AS unplanned,
  SUM(CASE WHEN ended = 1 AND ending_reason NOT IN %(planned)s
    AND ending_reason NOT IN %(unplanned)s THEN 1 ELSE 0 END) AS other_ending,
  SUM(finished) AS finished,
  SUM(CASE WHEN finished = 1 AND {has} THEN 1 ELSE 0 END) AS measured,
  SUM(CASE WHEN finished = 1 AND {has} AND {case_a} THEN 1 ELSE 0 END) AS cases,
  SUM(CASE WHEN finished = 1 AND {has} AND {case_a} AND NOT {case_b} THEN 1 ELSE 0 END)
    AS recovered,
  SUM(CASE WHEN finished = 1 AND {has} AND {imp} THEN 1 ELSE 0 END) AS improved,
  SUM(CASE WHEN finished = 1 AND {has} AND {det} THEN 1 ELSE 0 END) AS deteriorated,
  SUM(CASE WHEN finished = 1 AND {has} AND {case_a} AND NOT {case_b} AND {imp}
    THEN 1 ELSE 0 END) AS reliably_recovered,
  SUM(CASE WHEN finished = 1 AND goals > 0 THEN 1 ELSE 0 END) AS goals_rated,
  SUM(CASE WHEN finished = 1 AND goals > 0 AND goal_low >= %(goal_met)s THEN 1 ELSE 0 END)
    AS goals_met,
  SUM(CASE WHEN finished = 1 AND alliance IS NOT NULL THEN 1 ELSE 0 END) AS alliance_rated,
  SUM(CASE WHEN finished = 1 AND {has} AND phq_n >= 2 THEN phq_b - phq_a ELSE 0 END)
    AS phq9_change,
  SUM(CASE WHEN finished = 1 AND {has} AND gad_n >= 2 THEN gad_b - gad_a ELSE 0 END)
    AS gad7_change,
  SUM(CASE WHEN finished = 1 AND alliance IS NOT NULL THEN alliance ELSE 0 END)
    AS alliance_mean
FROM per
GROUP BY grp
ORDER BY grp
"""


def _severity_sql() -> tuple[str, dict[str, Any]]:
    """The intake PHQ-9's band code, from the bands of the instrument file."""
    bands = load_instrument("phq9").bands
    cases = " ".join(f"WHEN fl.phq_a <= %(band_{k})s THEN %(code_{k})s" for k in range(len(bands)))
    params: dict[str, Any] = {}
    for k, band in enumerate(bands):
        params[f"band_{k}"] = band.max
        params[f"code_{k}"] = band.code
    return f"CASE WHEN fl.phq_a IS NULL THEN '' {cases} ELSE '' END", params


def statement(query: Query, scope: Scope) -> tuple[str, dict[str, Any]]:
    """The statement's text and its parameters."""
    phq_cut, phq_rc = _thresholds("phq9")
    gad_cut, gad_rc = _thresholds("gad7")
    params: dict[str, Any] = {
        "org": scope.organisation_id,
        "start": query.start,
        "end": query.end,
        "therapy": EncounterKind.THERAPY.value,
        "follow_up": EncounterKind.FOLLOW_UP.value,
        "attended": Attendance.ATTENDED.value,
        "alliance": ALLIANCE_CHECK,
        "planned": (EndingReason.PLANNED.value, EndingReason.MUTUAL.value),
        "unplanned": (EndingReason.DROPPED_OUT.value,),
        "goal_met": GOAL_ATTAINED,
        "phq_cut": phq_cut,
        "phq_rc": phq_rc,
        "gad_cut": gad_cut,
        "gad_rc": gad_rc,
    }
    scope_sql = ""
    if scope.teams is not None:
        ids = tuple(scope.teams) or (0,)
        params["teams"] = ids
        scope_sql += " AND c.team_id IN %(teams)s"
    if query.team is not None:
        params["team"] = query.team
        scope_sql += " AND c.team_id = %(team)s"
    if query.discipline:
        params["discipline"] = query.discipline
        scope_sql += (
            " AND COALESCE(NULLIF(lp.discipline, ''), NULLIF(lm.discipline, '')) = %(discipline)s"
        )
    group = GROUP_SQL[query.group_by]
    if query.group_by == "severity":
        severity, extra = _severity_sql()
        params.update(extra)
        group = group.format(severity=severity)
    text = STATEMENT.format(scope=scope_sql, group=group, **_outcome_sql(query.measure))
    return text, params


# Seconds a report may take while its reader waits: below the 60-second limit after which the
# server replaces a worker (alliance/server.py), so the reader gets an answer, not a dropped
# connection. The demo's report takes milliseconds; a clinic of a million episodes a year, a minute.
TIME_LIMIT = 45.0


class TooLong(Exception):
    """The statement ran past its time limit and was stopped; nothing was written."""


def run(query: Query, scope: Scope, *, seconds: float = TIME_LIMIT) -> list[dict[str, Any]]:
    """One dict of sums per group, read from the database's cursor (a handful of rows).

    Run it inside a transaction: on PostgreSQL the time limit is the transaction's setting.
    """
    text, params = statement(query, scope)
    text, flat = _expand(text, params)
    with connection.cursor() as cursor:
        statistics.before(cursor, connection.vendor)
        deadline = time.monotonic() + seconds
        try:
            with _time_limit(cursor, seconds, deadline):
                cursor.execute(text, flat)
                names = [c[0] for c in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                raise TooLong(f"stopped after {seconds:g} seconds") from exc
            raise
        statistics.after(cursor, connection.vendor)
        return rows


@contextmanager
def _time_limit(cursor: Any, seconds: float, deadline: float) -> Iterator[None]:
    """Stop the statement at the deadline: PostgreSQL's statement_timeout for this transaction;
    on SQLite a progress handler, which the engine calls every thousand instructions."""
    if connection.vendor == "postgresql":
        milliseconds = max(1, round(seconds * 1000))
        # Also planned for each clinic and period, never from a cached generic plan: the report
        # runs as a prepared statement (config.PREPARE_THRESHOLD), and clinics differ in size.
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true), "
            "set_config('plan_cache_mode', 'force_custom_plan', true)",
            [str(milliseconds)],
        )
        yield
        return
    raw = connection.connection
    raw.set_progress_handler(lambda: 1 if time.monotonic() >= deadline else 0, 1000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _expand(text: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """Named parameters to positional ones, with a tuple spelled out as (%s, %s, ...).

    Both engines then see plain `%s` placeholders (Django's SQLite wrapper turns them into
    `?`), and an IN list gets one placeholder per value, never text.
    """
    out: list[str] = []
    flat: list[Any] = []
    rest = text
    while True:
        at = rest.find("%(")
        if at < 0:
            out.append(rest)
            break
        close = rest.index(")s", at)
        name = rest[at + 2 : close]
        out.append(rest[:at])
        value = params[name]
        if isinstance(value, tuple):
            out.append("(" + ", ".join(["%s"] * len(value)) + ")")
            flat.extend(value)
        else:
            out.append("%s")
            flat.append(value)
        rest = rest[close + 2 :]
    return "".join(out), flat
