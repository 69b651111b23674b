"""`alliance synth` on the test database: the population is valid, and the outcome report's
figures equal a plain Python recomputation of the same definitions from the ORM.

The recomputation is deliberately naive and independent of alliance/reports/query.py: it reads
rows one by one through the ORM, orders each episode's scores in Python, and classes the first
and last with alliance.measurement.talking_therapies (`talking_therapies_outcome`,
`paired_outcome`) and goals with alliance.agency.readiness.goals_attained, following the
definitions in query.py's docstring.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django.db.models import Exists, ForeignKey, OuterRef
from django.utils import timezone

from alliance import cli
from alliance.accounts.models import Membership, Organisation, Role, Team, User
from alliance.agency.models import CheckIn, Goal, GoalChange, GoalRating
from alliance.agency.readiness import goals_attained
from alliance.audit.models import AuditEntry
from alliance.clients.models import (
    Attendance,
    CareRole,
    CareTeamMember,
    Client,
    Encounter,
    EncounterKind,
    EndingReason,
    Episode,
    Phase,
)
from alliance.measurement import load_instrument, paired_outcome, score, talking_therapies_outcome
from alliance.measures.models import Response
from alliance.reports.query import COUNTS, GROUPS, MEASURES, Query, Scope, run

N = 300
SEED = 11
SLUG = "synth-test"
WRITTEN = (
    Client,
    CareTeamMember,
    Episode,
    Encounter,
    CheckIn,
    Response,
    Goal,
    GoalChange,
    GoalRating,
)
OUTCOME = ("phq9", "gad7")
ALLIANCE_CHECK = "alliance-session-check"
# The sums behind the means the report shows for each measure (report.Report.means_shown).
SHOWN_SUMS = {
    "paired": ("phq9_change", "gad7_change", "alliance_mean"),
    "phq9": ("phq9_change", "alliance_mean"),
    "gad7": ("gad7_change", "alliance_mean"),
}


def _synth(slug: str = SLUG, episodes: int = N) -> Organisation:
    code = cli.main(["synth", "--episodes", str(episodes), "--seed", str(SEED), "--slug", slug])
    assert code == 0
    return Organisation.objects.get(slug=slug)


# --- the population is valid ----------------------------------------------------------------


@pytest.mark.django_db
def test_synth_population_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    org = _synth()
    out = capsys.readouterr()
    assert out.out.startswith(f"Synthesised {N} episodes")
    assert f"{N}/{N}" in out.err  # the progress bar

    # One client, one episode each; staff and teams as promised.
    assert Episode.objects.filter(organisation=org).count() == N
    assert Client.objects.filter(organisation=org).count() == N
    assert not Client.objects.filter(organisation=org, episodes__isnull=True).exists()
    assert Episode.objects.filter(organisation=org).values("client_id").distinct().count() == N
    clinicians = Membership.objects.filter(organisation=org, role=Role.CLINICIAN)
    assert clinicians.count() == 3
    assert all(m.discipline for m in clinicians)
    assert Team.objects.filter(organisation=org).count() == 3
    users = User.objects.filter(memberships__organisation=org)
    assert users.count() == Membership.objects.filter(organisation=org).count()
    assert not any(u.has_usable_password() for u in users)

    # Exactly one open lead place per client; ended lead places only for a handover.
    leads = CareTeamMember.objects.filter(organisation=org, care_role=CareRole.LEAD)
    open_leads = leads.filter(ended_at__isnull=True)
    assert open_leads.count() == N
    assert open_leads.values("client_id").distinct().count() == N
    for place in leads.filter(ended_at__isnull=False):
        assert place.ended_at is not None
        assert place.ended_at >= place.started_at

    # Every reference points at a row of the same clinic (PostgreSQL loads skip the row-by-row
    # foreign-key triggers, so this is where the references are checked).
    for model in WRITTEN:
        for f in model._meta.concrete_fields:
            if not isinstance(f, ForeignKey):
                continue
            parent: Any = f.related_model
            orphans = model.objects.filter(**{f"{f.attname}__isnull": False}).exclude(
                Exists(parent.objects.filter(pk=OuterRef(f.attname)))
            )
            assert not orphans.exists(), f"{model.__name__}.{f.name} points nowhere"
        assert model.objects.filter(organisation=org).exists()
    for response in Response.objects.filter(organisation=org).select_related("episode"):
        assert response.client_id == response.episode.client_id
    for encounter in Encounter.objects.filter(organisation=org).select_related("episode"):
        assert encounter.client_id == encounter.episode.client_id
        assert encounter.starts_at.date() >= encounter.episode.opened_on

    # Episodes: ended ones are dated and have a reason; open ones have neither.
    today = timezone.localdate()
    reasons: dict[str, int] = defaultdict(int)
    for e in Episode.objects.filter(organisation=org):
        assert today - timedelta(days=3 * 365) <= e.opened_on <= today
        if e.ended_on is None:
            assert e.ending_reason == ""
            assert e.closed_on is None
            assert e.phase in (Phase.ENGAGEMENT, Phase.WORKING, Phase.ENDING)
            continue
        reasons[e.ending_reason] += 1
        assert e.opened_on <= e.ended_on <= today
        if e.closed_on is None:
            assert e.phase == Phase.FOLLOW_UP
        else:
            assert e.phase == Phase.CLOSED
            assert e.closed_on >= e.ended_on
    ended = sum(reasons.values())
    assert ended > N * 0.8
    assert 0.15 <= reasons[EndingReason.DROPPED_OUT] / ended <= 0.35
    assert reasons[EndingReason.PLANNED] / ended > 0.4

    # Every response: its answers score to its total with the app's own scoring.
    by_kind = {"complete": 0, "incomplete": 0}
    for r in Response.objects.filter(organisation=org):
        instrument = load_instrument(r.instrument_id)
        result = score(instrument, r.answers)
        assert result.total == r.total
        assert result.complete == r.complete
        assert (result.band or "") == r.band
        assert result.flags == r.flags
        if r.complete:
            assert r.total is not None
            assert sum(r.answers.values()) == r.total
            assert instrument.min_total <= r.total <= instrument.max_total
            by_kind["complete"] += 1
        else:
            assert r.total is None
            by_kind["incomplete"] += 1
    assert by_kind["complete"] > N * 8
    # Scores at attended sessions only; PHQ-9 and GAD-7 at every one.
    attended_sessions = Encounter.objects.filter(
        organisation=org,
        attendance=Attendance.ATTENDED,
        kind__in=(EncounterKind.ASSESSMENT, EncounterKind.THERAPY),
    )
    assert (
        not Response.objects.filter(organisation=org, encounter__isnull=False)
        .exclude(encounter__attendance=Attendance.ATTENDED)
        .exists()
    )
    phq = Response.objects.filter(organisation=org, instrument_id="phq9", complete=True).count()
    follow_ups = Response.objects.filter(
        organisation=org, instrument_id="phq9", encounter__kind=EncounterKind.FOLLOW_UP
    ).count()
    assert phq == attended_sessions.count() + follow_ups

    # A realistic course: most measured clients improve.
    data = _read(org)
    changes = [v[-1] - v[0] for v in data.scores["phq9"].values() if len(v) >= 2]
    assert len(changes) > N * 0.6
    assert -9 < sum(changes) / len(changes) < -3
    assert Goal.objects.filter(organisation=org).exists()
    assert GoalRating.objects.filter(organisation=org).exists()
    assert Response.objects.filter(organisation=org, instrument_id=ALLIANCE_CHECK).exists()

    # One audit entry for the whole load, with the counts.
    entries = AuditEntry.objects.filter(organisation_id=org.pk, action="synth.load")
    assert entries.count() == 1
    detail = entries.get().detail
    assert detail["episodes"] == N
    assert detail["responses"] == Response.objects.filter(organisation=org).count()


@pytest.mark.django_db
def test_existing_slug_is_refused_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    Organisation.objects.create(name="Taken", slug="taken")
    models = (Organisation, Team, User, Membership, *WRITTEN, AuditEntry)
    before = {m: m.objects.count() for m in models}
    code = cli.main(["synth", "--episodes", "5", "--slug", "taken"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert err == "alliance: an organisation with the slug 'taken' already exists\n"
    assert {m: m.objects.count() for m in models} == before


@pytest.mark.django_db
def test_bad_arguments_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["synth", "--episodes", "5", "--slug", "Not A Slug"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit) as exited:
        cli.main(["synth", "--episodes", "0"])
    assert exited.value.code == cli.EXIT_USAGE
    assert "--episodes: 0 is outside" in capsys.readouterr().err


# --- the report against an independent computation ------------------------------------------


@dataclass
class Data:
    """What the recomputation reads, per episode, through the ORM."""

    episodes: list[dict[str, Any]]
    lead: dict[int, tuple[int, str]]  # client -> (membership, discipline)
    lead_first_place: dict[int, tuple[int, str]]  # client -> the lead place written first
    lead_last_place: dict[int, tuple[int, str]]  # client -> the lead place written last
    therapy: dict[int, int]  # episode -> attended therapy sessions
    scores: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # in time order
    alliance: dict[int, list[int]] = field(default_factory=dict)
    goals: dict[int, list[int]] = field(default_factory=dict)  # latest rating of rated goals


def _read(org: Organisation) -> Data:
    episodes = [
        dict(e)
        for e in Episode.objects.filter(organisation=org).values(
            "id", "client_id", "opened_on", "ended_on", "ending_reason", "client__team_id"
        )
    ]
    places: dict[int, list[CareTeamMember]] = defaultdict(list)
    for place in (
        CareTeamMember.objects.filter(organisation=org, care_role=CareRole.LEAD)
        .select_related("membership")
        .order_by("started_at", "pk")
    ):
        places[place.client_id].append(place)

    def described(place: CareTeamMember) -> tuple[int, str]:
        return place.membership_id, place.discipline or place.membership.discipline

    lead, first_place, last_place = {}, {}, {}
    for client, found in places.items():
        # The client's lead clinician: the lead place still open; else the latest one.
        current = [p for p in found if p.ended_at is None] or found[-1:]
        lead[client] = described(current[-1])
        first_place[client] = described(min(found, key=lambda p: p.pk))
        last_place[client] = described(max(found, key=lambda p: p.pk))
    therapy: dict[int, int] = defaultdict(int)
    for e in Encounter.objects.filter(
        organisation=org, kind=EncounterKind.THERAPY, attendance=Attendance.ATTENDED
    ):
        therapy[e.episode_id] += 1
    data = Data(episodes, lead, first_place, last_place, therapy)
    data.scores = {i: defaultdict(list) for i in OUTCOME}
    responses = (
        Response.objects.filter(organisation=org)
        .select_related("encounter")
        .order_by("submitted_at", "pk")
    )
    alliance: dict[int, list[int]] = defaultdict(list)
    for r in responses:
        if not r.complete or r.total is None:
            continue
        if r.instrument_id in OUTCOME:
            # Taken in treatment: follow-up check-ins are left out.
            if r.encounter is not None and r.encounter.kind == EncounterKind.FOLLOW_UP:
                continue
            data.scores[r.instrument_id][r.episode_id].append(r.total)
        elif r.instrument_id == ALLIANCE_CHECK:
            alliance[r.episode_id].append(r.total)
    data.alliance = alliance
    latest: dict[int, GoalRating] = {}
    for rating in GoalRating.objects.filter(organisation=org).order_by("rated_at", "pk"):
        latest[rating.goal_id] = rating  # the last one wins
    goals: dict[int, list[int]] = defaultdict(list)
    for rating in latest.values():
        goals[rating.episode_id].append(rating.rating)
    data.goals = goals
    return data


def _severity(first_phq: int | None) -> str:
    if first_phq is None:
        return ""
    for band in load_instrument("phq9").bands:
        if band.min <= first_phq <= band.max:
            return band.code
    return ""


def expected(data: Data, query: Query, scope: Scope) -> dict[str, dict[str, float]]:
    """The report's sums per group, recomputed one episode at a time."""
    planned = {EndingReason.PLANNED, EndingReason.MUTUAL}
    out: dict[str, dict[str, float]] = {}
    for e in data.episodes:
        team = e["client__team_id"]
        membership, discipline = data.lead.get(e["client_id"], (None, ""))
        if scope.teams is not None and team not in scope.teams:
            continue
        if query.team is not None and team != query.team:
            continue
        if query.discipline and discipline != query.discipline:
            continue
        referral = query.start <= e["opened_on"] <= query.end
        ended_on = e["ended_on"]
        ended = ended_on is not None and query.start <= ended_on <= query.end
        if not (referral or ended):
            continue
        phq = data.scores["phq9"].get(e["id"], [])
        gad = data.scores["gad7"].get(e["id"], [])
        key = {
            "organisation": "0",
            "team": str(team or 0),
            "clinician": str(membership or 0),
            "discipline": discipline or "",
            "severity": _severity(phq[0] if phq else None),
        }[query.group_by]
        row = out.setdefault(key, dict.fromkeys((*COUNTS, *SHOWN_SUMS["paired"]), 0.0))

        def add(name: str, value: float | bool = 1, row: dict[str, float] = row) -> None:
            row[name] += float(value)

        add("referrals", referral)
        if not ended:
            continue
        add("ended")
        reason = e["ending_reason"]
        if reason in planned:
            add("planned")
        elif reason == EndingReason.DROPPED_OUT:
            add("unplanned")
        else:
            add("other_ending")
        if data.therapy.get(e["id"], 0) < 2:
            continue
        add("finished")
        goals = data.goals.get(e["id"], [])
        if goals:
            add("goals_rated")
            add("goals_met", bool(goals_attained(goals).met))
        checks = data.alliance.get(e["id"], [])
        if checks:
            add("alliance_rated")
            add("alliance_mean", sum(checks) / len(checks))
        outcome: Any
        if query.measure == "paired":
            if len(phq) < 2 or len(gad) < 2:
                continue
            outcome = paired_outcome(phq[0], phq[-1], gad[0], gad[-1])
        else:
            totals = phq if query.measure == "phq9" else gad
            if len(totals) < 2:
                continue
            outcome = talking_therapies_outcome(totals[0], totals[-1], query.measure)
        add("measured")
        add("cases", outcome.case_at_first)
        add("recovered", outcome.recovered is True)
        add("improved", outcome.reliable_improvement)
        add("deteriorated", outcome.reliable_deterioration)
        add("reliably_recovered", outcome.reliable_recovery is True)
        if query.measure in ("paired", "phq9"):
            add("phq9_change", phq[-1] - phq[0])
        if query.measure in ("paired", "gad7"):
            add("gad7_change", gad[-1] - gad[0])
    return out


def _compare(
    got: list[dict[str, Any]], want: dict[str, dict[str, float]], measure: str
) -> list[str]:
    """Every difference between the report's rows and the recomputation, as text."""
    problems = []
    rows = {str(r["grp"]): r for r in got}
    if set(rows) != set(want):
        problems.append(f"groups {sorted(rows)} != {sorted(want)}")
    for key in sorted(set(rows) & set(want)):
        for col in COUNTS:
            if int(rows[key][col] or 0) != want[key][col]:
                problems.append(f"{key}.{col}: report {rows[key][col]} != {want[key][col]}")
        for col in SHOWN_SUMS[measure]:
            if abs(float(rows[key][col] or 0) - want[key][col]) > 1e-6:
                problems.append(f"{key}.{col}: report {rows[key][col]} != {want[key][col]}")
    return problems


def _periods(today: date) -> list[tuple[date, date]]:
    return [
        (today - timedelta(days=365), today),  # the last twelve months
        (today - timedelta(days=4 * 365), today),  # everything
        (today - timedelta(days=700), today - timedelta(days=300)),  # a window in the past
    ]


@pytest.mark.django_db
def test_report_equals_an_independent_recomputation() -> None:
    org = _synth()
    data = _read(org)
    whole = Scope(org.pk, None)
    today = timezone.localdate()
    problems: list[str] = []
    checked = 0
    for start, end in _periods(today):
        for group_by in GROUPS:
            if group_by in ("clinician", "discipline"):
                continue  # see test_report_lead_clinician below
            for measure in MEASURES:
                query = Query(start, end, group_by=group_by, measure=measure)
                got = run(query, whole)
                want = expected(data, query, whole)
                assert sum(r["ended"] for r in want.values()) > 0
                problems += [f"{query}: {p}" for p in _compare(got, want, measure)]
                checked += 1
    # A narrower scope (a coordinator's teams) and the team filter.
    teams = list(Team.objects.filter(organisation=org).order_by("pk").values_list("pk", flat=True))
    start, end = _periods(today)[0]
    for scope, query in (
        (Scope(org.pk, teams[:2]), Query(start, end, group_by="team")),
        (Scope(org.pk, []), Query(start, end, group_by="team")),
        (whole, Query(start, end, group_by="severity", team=teams[0], measure="phq9")),
    ):
        problems += [
            f"{query} {scope}: {p}"
            for p in _compare(run(query, scope), expected(data, query, scope), query.measure)
        ]
        checked += 1
    assert checked == 3 * 3 * 3 + 3
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_report_groups_by_the_current_lead_clinician() -> None:
    """By clinician and by discipline, and with a discipline filter, the report groups an episode
    under the client's current lead: the lead place still open (else the latest one), as the
    recomputation does, on every measure. The synthetic clinic has both ways a lead place ends:
    a handover (3% of clients: the first lead's place ended, a new one opened) and a cover (2%:
    a colleague added as a second lead, whose place ended while the first stayed open)."""
    org = _synth()
    data = _read(org)
    handed_over = [c for c in data.lead if data.lead[c] != data.lead_first_place[c]]
    covered = [c for c in data.lead if data.lead[c] != data.lead_last_place[c]]
    assert handed_over, "the synthetic clinic should have clients whose lead changed"
    assert covered, "the synthetic clinic should have clients whose lead had cover"
    whole = Scope(org.pk, None)
    start, end = _periods(timezone.localdate())[1]
    problems = []
    for group_by in ("clinician", "discipline"):
        for measure in MEASURES:
            query = Query(start, end, group_by=group_by, measure=measure)
            problems += _compare(run(query, whole), expected(data, query, whole), measure)
    for discipline in sorted({d for _, d in data.lead.values()}):
        query = Query(start, end, group_by="team", discipline=discipline)
        problems += _compare(run(query, whole), expected(data, query, whole), "paired")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_on_sqlite_the_report_gives_the_planner_statistics_it_lacked() -> None:
    """Without statistics SQLite takes a clinic's episodes for about ten rows and joins the
    per-episode figures by scanning (alliance/reports/statistics.py); the first report analyses
    the tables it reads, and the figures are the same either way."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = _synth()
    query = Query(timezone.localdate() - timedelta(days=365), timezone.localdate())
    if connection.vendor == "postgresql":  # autovacuum keeps its statistics: nothing to add
        with CaptureQueriesContext(connection) as statements:
            run(query, Scope(org.pk, None))
        sent = [q["sql"] for q in statements.captured_queries]
        assert len(sent) == 2  # the transaction's time limit, then the report
        assert "statement_timeout" in sent[0]
        assert "force_custom_plan" in sent[0]
        assert not [q for q in sent if "ANALYZE" in q.upper()]
        return

    def analysed() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is None:
                return set()
            cursor.execute("SELECT DISTINCT tbl FROM sqlite_stat1")
            return {row[0] for row in cursor.fetchall()}

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
    assert "clients_episode" not in analysed()
    first = run(query, Scope(org.pk, None))
    assert {"clients_episode", "clients_encounter", "measures_response"} <= analysed()
    assert run(query, Scope(org.pk, None)) == first
