"""Who may run the outcome report, over which teams, and the audit entry of every run.

The report reads client data in aggregate only, but it reads it: each run goes through
`access_report`, which checks the actor's role against the clinic's choice
(`ClinicSettings.report_roles`), limits the episodes to the teams the actor may see (a clinic
admin: the whole clinic), refuses a team filter outside those teams, and appends an audit entry
with what was asked (never a figure, never a client).
"""

from __future__ import annotations

from dataclasses import dataclass

from alliance.accounts.actor import Actor
from alliance.accounts.models import ClinicSettings, Role, Team, clinic_settings
from alliance.audit.log import record
from alliance.audit.models import Outcome
from alliance.clients.errors import ActionError
from alliance.reports.query import Query, Scope


class ReportRefused(ActionError):
    """The actor's role may not run the report (the clinic admin chooses who may)."""


@dataclass(frozen=True)
class ReportAccess:
    scope: Scope
    teams: list[Team]  # the teams the actor may report on, for the form's choices


def may_report(actor: Actor, settings: ClinicSettings | None = None) -> bool:
    settings = settings or clinic_settings(actor.organisation_id)
    return actor.membership.role in (settings.report_roles or [])


def report_teams(actor: Actor) -> list[Team]:
    teams = Team.objects.filter(organisation_id=actor.organisation_id)
    if actor.membership.role != Role.ADMIN:
        teams = teams.filter(members=actor.membership.pk)
    return list(teams.order_by("name"))


def reporting_scope(actor: Actor, action: str = "report.run") -> ReportAccess:
    """The actor's scope, or ReportRefused when their role may not run the report, audited as
    `action` (report.run, or report.export for a file), as the run itself would be."""
    if not may_report(actor):
        record(action, actor=actor, object_type="report", outcome=Outcome.DENIED)
        raise ReportRefused(
            "Your role does not run the outcome report; the clinic admin chooses who may."
        )
    teams = report_teams(actor)
    whole = actor.membership.role == Role.ADMIN
    return ReportAccess(
        Scope(actor.organisation_id, None if whole else [t.pk for t in teams]), teams
    )


def access_report(
    actor: Actor, query: Query, *, action: str = "report.run", allowed: ReportAccess | None = None
) -> Scope:
    """Check the run and record it; the Scope the query is then limited to. `allowed` is the
    actor's reporting_scope when the caller has already read it (for the form's choices)."""
    allowed = allowed or reporting_scope(actor, action)
    if query.team is not None and query.team not in {t.pk for t in allowed.teams}:
        record(
            action,
            actor=actor,
            object_type="report",
            outcome=Outcome.DENIED,
            detail={"team": query.team},
        )
        raise ActionError("That team is not one you can report on. Choose one of your teams.")
    record(
        action,
        actor=actor,
        object_type="report",
        detail={
            "start": query.start.isoformat(),
            "end": query.end.isoformat(),
            "group_by": query.group_by,
            "measure": query.measure,
            "team": query.team,
            "discipline": query.discipline,
        },
    )
    return allowed.scope
