"""The outcome report: its figures against the measurement core's own definitions, suppression
of small cells on the page, CSV, PDF and API, who may run it, and bad input.

Definitions: NHS Talking Therapies (alliance/measurement/talking_therapies.py); caseness and
reliable change from the instrument files (PHQ-9 10 and 6, GAD-7 8 and 4: Kroenke et al. 2001,
Spitzer et al. 2006, the NHS Talking Therapies Manual).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from alliance.accounts.models import ClinicSettings, Role, Team
from alliance.audit.models import AuditEntry, Outcome
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
from alliance.measurement.talking_therapies import paired_outcome
from alliance.reports.query import Query, Scope, run
from conftest import scored_response, signed_in

TODAY = date(2026, 6, 30)
PERIOD = {"start": "2025-07-01", "end": "2026-06-30", "group_by": "team", "measure": "paired"}


def _episode(
    team: Team | None,
    lead,
    n: int,
    *,
    phq: list[int],
    gad: list[int],
    sessions: int = 4,
    ended: date | None = date(2026, 3, 1),
    opened: date = date(2025, 11, 1),
    reason: str = EndingReason.PLANNED,
) -> Episode:
    org = lead.organisation
    client = Client.objects.create(
        organisation=org, team=team, display_name=f"Report Client {n}", record_number=f"RC-{n}"
    )
    CareTeamMember.objects.create(
        organisation=org,
        client=client,
        membership=lead,
        care_role=CareRole.LEAD,
        discipline=lead.discipline,
    )
    episode = Episode.objects.create(
        organisation=org,
        client=client,
        opened_on=opened,
        ended_on=ended,
        closed_on=ended,
        phase=Phase.CLOSED if ended else Phase.WORKING,
        ending_reason=reason if ended else "",
    )
    start = timezone.make_aware(datetime(opened.year, opened.month, opened.day, 10))
    for k in range(sessions):
        Encounter.objects.create(
            organisation=org,
            client=client,
            episode=episode,
            clinician=lead,
            starts_at=start + timedelta(weeks=k),
            kind=EncounterKind.THERAPY,
            attendance=Attendance.ATTENDED,
        )
    for k, total in enumerate(phq):
        scored_response(episode, "phq9", total, "", start + timedelta(weeks=k, minutes=1))
    for k, total in enumerate(gad):
        scored_response(episode, "gad7", total, "", start + timedelta(weeks=k, minutes=2))
    return episode


def _cohort(world, size: int, seed: int) -> list[dict[str, Any]]:
    """Random episodes in both teams; returns what each one is, for the Python check."""
    rng = random.Random(seed)
    made = []
    for n in range(size):
        team = world.team if rng.random() < 0.6 else world.other_team
        lead = world.clinician if team == world.team else world.colleague
        count = rng.choice([0, 1, 2, 3, 5])
        phq = [rng.randint(0, 27) for _ in range(count)]
        gad = [rng.randint(0, 21) for _ in range(rng.choice([count, max(count - 1, 0)]))]
        sessions = rng.choice([1, 2, 3, 6])
        ended = rng.choice([None, date(2026, 2, 1), date(2025, 5, 1), date(2026, 6, 30)])
        opened = rng.choice([date(2025, 3, 1), date(2025, 9, 1)])
        reason = rng.choice(EndingReason.values)
        _episode(
            team,
            lead,
            1000 + n,
            phq=phq,
            gad=gad,
            sessions=sessions,
            ended=ended,
            opened=opened,
            reason=reason,
        )
        made.append(
            dict(
                team=team.pk,
                phq=phq,
                gad=gad,
                sessions=sessions,
                ended=ended,
                opened=opened,
                reason=reason,
            )
        )
    return made


def _expected(made: list[dict[str, Any]], start: date, end: date) -> dict[int, dict[str, int]]:
    """The same figures, one episode at a time, with the measurement core's functions."""
    out: dict[int, dict[str, int]] = {}
    for e in made:
        if not (start <= e["opened"] <= end or (e["ended"] and start <= e["ended"] <= end)):
            continue
        row = out.setdefault(
            e["team"],
            dict.fromkeys(
                [
                    "referrals",
                    "ended",
                    "planned",
                    "unplanned",
                    "finished",
                    "measured",
                    "cases",
                    "recovered",
                    "improved",
                    "deteriorated",
                    "reliably_recovered",
                ],
                0,
            ),
        )
        row["referrals"] += start <= e["opened"] <= end
        ended = bool(e["ended"] and start <= e["ended"] <= end)
        row["ended"] += ended
        row["planned"] += ended and e["reason"] in ("planned", "mutual")
        row["unplanned"] += ended and e["reason"] == "dropped_out"
        finished = ended and e["sessions"] >= 2
        row["finished"] += finished
        if finished and len(e["phq"]) >= 2 and len(e["gad"]) >= 2:
            o = paired_outcome(e["phq"][0], e["phq"][-1], e["gad"][0], e["gad"][-1])
            row["measured"] += 1
            row["cases"] += o.case_at_first
            row["recovered"] += bool(o.recovered)
            row["improved"] += o.reliable_improvement
            row["deteriorated"] += o.reliable_deterioration
            row["reliably_recovered"] += bool(o.reliable_recovery)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_figures_match_the_measurement_core(world, seed):
    made = _cohort(world, 60, seed)
    start, end = date(2025, 7, 1), date(2026, 6, 30)
    rows = run(Query(start, end, "team", "paired"), Scope(world.org.pk, None))
    got = {int(r["grp"]): r for r in rows}
    expected = _expected(made, start, end)
    assert set(got) - {0} == set(expected)
    for team, figures in expected.items():
        for key, value in figures.items():
            assert int(got[team][key]) == value, (team, key)


def test_single_measure_uses_its_own_thresholds(world):
    # PHQ-9 15 -> 9: a case that recovered and improved by 6 (the reliable-change value).
    _episode(world.team, world.clinician, 1, phq=[15, 9], gad=[3, 3])
    rows = run(Query(date(2025, 7, 1), TODAY, "organisation", "phq9"), Scope(world.org.pk, None))
    assert rows[0]["recovered"] == 1
    assert rows[0]["improved"] == 1
    assert rows[0]["phq9_change"] == -6
    # GAD-7 alone: 3 -> 3 is not a case.
    rows = run(Query(date(2025, 7, 1), TODAY, "organisation", "gad7"), Scope(world.org.pk, None))
    assert rows[0]["cases"] == 0
    assert rows[0]["measured"] == 1


def test_follow_up_check_ins_are_not_the_last_score(world):
    episode = _episode(world.team, world.clinician, 1, phq=[18, 8], gad=[12, 5])
    check_in = Encounter.objects.create(
        organisation=world.org,
        client=episode.client,
        episode=episode,
        clinician=world.clinician,
        starts_at=timezone.now(),
        kind=EncounterKind.FOLLOW_UP,
        attendance=Attendance.ATTENDED,
    )
    scored_response(episode, "phq9", 25, "", timezone.now(), encounter=check_in)
    rows = run(Query(date(2025, 7, 1), TODAY, "organisation", "phq9"), Scope(world.org.pk, None))
    assert rows[0]["recovered"] == 1


def _big_team(world, size: int = 14) -> None:
    """14 finished episodes in the North team, 3 in the South team."""
    for n in range(size):
        _episode(world.team, world.clinician, n, phq=[16, 7], gad=[12, 4])
    for n in range(3):
        _episode(world.other_team, world.colleague, 100 + n, phq=[16, 17], gad=[12, 12])


def test_page_suppresses_small_cells_and_what_would_reveal_them(world):
    _big_team(world)
    client = signed_in(world.admin)
    page = client.get("/reports/outcomes/", PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Outcome report" in html
    assert "North team" in html
    assert "South team" in html
    # South's 3 are hidden, and one more figure of each line, or the All row would reveal
    # South's by subtraction (the API test checks the cells one by one).
    assert 'class="suppressed"' in html
    assert "Report Client" not in html
    assert "RC-1" not in html
    entry = AuditEntry.objects.filter(action="report.run").latest("pk")
    assert entry.outcome == Outcome.OK
    assert entry.client_id is None
    assert entry.detail["group_by"] == "team"


def test_large_groups_are_shown(world):
    for n in range(12):
        _episode(world.team, world.clinician, n, phq=[16, 7], gad=[12, 4])
    for n in range(11):
        _episode(world.other_team, world.colleague, 100 + n, phq=[16, 17], gad=[12, 12])
    report = signed_in(world.admin).get("/reports/outcomes.csv", PERIOD).content.decode()
    lines = {line.split(",")[0]: line.split(",") for line in report.splitlines()}
    assert lines["North team"][1:3] == ["12", "12"]  # referrals, ended
    assert lines["All"][1] == "23"
    # Every North episode recovered (16 -> 7 and 12 -> 4); no South one did.
    header = lines["Outcome report 2025-07-01 to 2026-06-30"]
    assert header
    assert "100" in lines["North team"]
    assert "suppressed" not in lines["North team"]


def test_csv_and_pdf_download(world):
    _big_team(world)
    Team.objects.filter(pk=world.team.pk).update(name="=HYPERLINK(1)")
    client = signed_in(world.admin)
    csv_response = client.get("/reports/outcomes.csv", PERIOD)
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    body = csv_response.content.decode()
    assert "suppressed" in body
    assert "'=HYPERLINK(1)" in body
    assert "Report Client" not in body
    pdf = client.get("/reports/outcomes.pdf", PERIOD)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert b"suppressed" in pdf.content
    assert b"Report Client" not in pdf.content
    actions = list(
        AuditEntry.objects.filter(action="report.export").values_list("outcome", flat=True)
    )
    assert actions == [Outcome.OK, Outcome.OK]


def test_roles_the_clinic_does_not_allow_are_refused(world):
    page = signed_in(world.clinician).get("/reports/outcomes/", PERIOD)
    assert page.status_code == 403
    assert AuditEntry.objects.filter(action="report.run", outcome=Outcome.DENIED).exists()
    ClinicSettings.objects.update_or_create(
        organisation=world.org, defaults={"report_roles": [Role.CLINICIAN, Role.ADMIN]}
    )
    assert signed_in(world.clinician).get("/reports/outcomes/", PERIOD).status_code == 200
    assert signed_in(world.coordinator).get("/reports/outcomes/", PERIOD).status_code == 403


@pytest.mark.parametrize("path", ["/reports/outcomes.csv", "/reports/outcomes.pdf"])
def test_a_refused_export_is_audited_as_an_export(world, path):
    """A file refused is written as the export it would have been, not as a run of the page."""
    response = signed_in(world.clinician).get(path, PERIOD)
    assert response.status_code == 403
    entries = AuditEntry.objects.filter(object_type="report")
    assert list(entries.values_list("action", "outcome")) == [("report.export", Outcome.DENIED)]


def test_the_role_is_checked_before_the_discipline(world):
    """A role that may not run the report is refused (and audited) whatever it asks for: an
    unknown discipline does not answer first, telling it what the clinic's disciplines are not."""
    from alliance.reports.access import ReportRefused
    from alliance.reports.service import outcome_report

    unknown = {**PERIOD, "discipline": "no-such-discipline"}
    api = signed_in(world.clinician).get("/api/reports/outcomes", unknown)
    assert api.status_code == 403
    assert "clinic admin" in api.json()["detail"]
    query = Query(date(2025, 7, 1), TODAY, discipline="no-such-discipline")
    with pytest.raises(ReportRefused):
        outcome_report(world.actor(world.clinician), query, action="report.export")
    denied = AuditEntry.objects.filter(object_type="report", outcome=Outcome.DENIED).order_by("pk")
    assert list(denied.values_list("action", flat=True)) == ["report.run", "report.export"]
    # A role that may run it hears about the discipline, and nothing is run or audited.
    allowed = signed_in(world.admin).get("/api/reports/outcomes", unknown)
    assert allowed.status_code == 400
    assert "disciplines" in allowed.json()["detail"]
    assert not AuditEntry.objects.filter(object_type="report", outcome=Outcome.OK).exists()


def test_a_team_the_user_cannot_see_gets_a_clear_answer(world):
    _big_team(world)
    # The coordinator works in the North team only.
    client = signed_in(world.coordinator)
    page = client.get("/reports/outcomes/", {**PERIOD, "team": world.other_team.pk})
    assert page.status_code == 200
    assert "not one you can report on" in page.content.decode()
    assert "South team" not in page.content.decode()
    csv_response = client.get("/reports/outcomes.csv", {**PERIOD, "team": world.other_team.pk})
    assert csv_response.status_code == 400
    # Without a filter, the coordinator's report covers their own team only.
    html = client.get("/reports/outcomes/", PERIOD).content.decode()
    assert "North team" in html
    assert "South team" not in html


def test_a_period_with_no_data_says_so(world):
    _big_team(world)
    html = (
        signed_in(world.admin)
        .get("/reports/outcomes/", {**PERIOD, "start": "2019-01-01", "end": "2019-12-31"})
        .content.decode()
    )
    assert "No episode was opened or ended" in html


def test_a_report_past_its_time_limit_is_stopped_with_a_clear_answer(world, monkeypatch):
    """The statement is stopped at the limit (PostgreSQL's statement_timeout, SQLite's progress
    handler) so the reader is answered before the server's 60-second worker limit."""
    from alliance.reports import query as sql

    _big_team(world)
    monkeypatch.setattr(sql, "TIME_LIMIT", 0.0)  # every statement is past it at once
    client = signed_in(world.admin)
    answer = client.get("/reports/outcomes/", PERIOD)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "This report needs more than 0 seconds to add up" in html
    assert "Download CSV" not in html
    api = client.get("/api/reports/outcomes", PERIOD)
    assert api.status_code == 400
    assert "Choose a shorter period or one team" in api.json()["detail"]
    monkeypatch.setattr(sql, "TIME_LIMIT", 45.0)
    assert "Download CSV" in client.get("/reports/outcomes/", PERIOD).content.decode()


def test_bad_periods_are_form_errors(world):
    client = signed_in(world.admin)
    html = client.get("/reports/outcomes/", {**PERIOD, "end": "2025-01-01"}).content.decode()
    assert "The period ends before it starts." in html
    html = client.get("/reports/outcomes/", {**PERIOD, "start": "not a date"}).content.decode()
    assert "Enter a valid date." in html
    html = client.get("/reports/outcomes/", {**PERIOD, "group_by": "client"}).content.decode()
    assert "Select a valid choice" in html
    assert client.get("/reports/outcomes.csv", {**PERIOD, "end": "2025-01-01"}).status_code == 400


def test_api_report(world):
    _big_team(world)
    client = signed_in(world.admin)
    response = client.get("/api/reports/outcomes", PERIOD)
    assert response.status_code == 200
    data = response.json()
    assert data["total"]["group"] == "All"
    south = next(r for r in data["rows"] if r["group"] == "South team")
    north = next(r for r in data["rows"] if r["group"] == "North team")
    assert south["counts"]["finished"] == {"value": None, "suppressed": True}
    assert south["rates_percent"]["recovery_rate"]["suppressed"] is True
    # One more cell of the line is hidden, so that 17 - North cannot give South.
    line = [north["counts"]["finished"], data["total"]["counts"]["finished"]]
    assert any(cell["suppressed"] for cell in line)
    assert data["suppressed_counts"] > 0
    assert "Report Client" not in response.content.decode()
    bad = client.get("/api/reports/outcomes", {**PERIOD, "end": "2025-01-01"})
    assert bad.status_code == 400
    assert "ends before" in bad.json()["detail"]
    soon = (timezone.localdate() + timedelta(days=30)).isoformat()
    future = client.get("/api/reports/outcomes", {"start": soon, "end": soon})
    assert future.status_code == 400  # as the page's form says it
    assert future.json()["detail"] == "The period starts in the future; there is nothing yet."
    assert client.get("/api/reports/outcomes", {**PERIOD, "group_by": "x"}).status_code == 422
    refused = signed_in(world.clinician).get("/api/reports/outcomes", PERIOD)
    assert refused.status_code == 403
    assert "clinic admin" in refused.json()["detail"]
    other = signed_in(world.coordinator).get(
        "/api/reports/outcomes", {**PERIOD, "team": world.other_team.pk}
    )
    assert other.status_code == 400
    assert "not one you can report on" in other.json()["detail"]
    empty = client.get(
        "/api/reports/outcomes", {**PERIOD, "start": "2019-01-01", "end": "2019-02-01"}
    )
    assert empty.status_code == 200
    assert empty.json()["message"]


def test_report_reads_no_other_clinic(world):
    _big_team(world)
    _episode(None, world.outsider, 500, phq=[20, 5], gad=[15, 2])
    rows = run(Query(date(2025, 7, 1), TODAY, "organisation", "paired"), Scope(world.org.pk, None))
    assert sum(r["referrals"] for r in rows) == 17


def test_the_default_period_on_29_february_is_the_year_since_1_march():
    from alliance.reports.forms import default_period

    assert default_period(date(2028, 2, 29)) == (date(2027, 3, 1), date(2028, 2, 29))
    assert default_period(date(2026, 11, 24)) == (date(2025, 11, 25), date(2026, 11, 24))
