"""Running the outcome report: check and audit the run, let the database sum, suppress, label."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from alliance.accounts.actor import Actor
from alliance.accounts.models import Membership, Team
from alliance.care.access import disciplines
from alliance.clients.errors import ActionError
from alliance.measurement import load_instrument
from alliance.reports import query as sql
from alliance.reports.access import ReportAccess, access_report, reporting_scope
from alliance.reports.report import Report, build


class ReportTooLong(ActionError):
    """The report was stopped at its time limit; the reader is told to ask for less."""


NO_GROUP = {
    "team": "(no team)",
    "clinician": "(no lead clinician)",
    "discipline": "(no discipline recorded)",
    "severity": "(no PHQ-9 at intake)",
}


def outcome_report(
    actor: Actor,
    query: sql.Query,
    *,
    action: str = "report.run",
    allowed: ReportAccess | None = None,
) -> Report:
    # Checked and audited outside the query's transaction: a refusal raised inside it would take
    # its own denied entry down with the rollback (the entry joins the request's batch instead).
    # The role first: a role that may not run the report hears that, whatever it asked for.
    allowed = allowed or reporting_scope(actor, action)
    if query.discipline and query.discipline not in dict(disciplines(actor.organisation_id)):
        raise ActionError("Choose one of the clinic's disciplines.")
    scope = access_report(actor, query, action=action, allowed=allowed)
    try:
        with transaction.atomic():
            sums = sql.run(query, scope, seconds=sql.TIME_LIMIT)
    except sql.TooLong:
        raise ReportTooLong(
            f"This report needs more than {sql.TIME_LIMIT:g} seconds to add up. Choose a shorter "
            "period or one team."
        ) from None
    if query.group_by == "severity":
        order = {band.code: k for k, band in enumerate(load_instrument("phq9").bands)}
        sums.sort(key=lambda row: order.get(str(row["grp"]), len(order)))
    return build(query, sums, labels(actor.organisation_id, query.group_by))


def labels(organisation_id: int, group_by: str) -> dict[Any, str]:
    """Display names of the groups: teams, staff, disciplines or severity bands."""
    found: dict[Any, str] = {"0": NO_GROUP.get(group_by, ""), "": NO_GROUP.get(group_by, "")}
    if group_by == "organisation":
        found["0"] = "Whole clinic"
    elif group_by == "team":
        for pk, name in Team.objects.filter(organisation_id=organisation_id).values_list(
            "pk", "name"
        ):
            found[str(pk)] = name
    elif group_by == "clinician":
        for m in Membership.objects.filter(organisation_id=organisation_id).select_related("user"):
            found[str(m.pk)] = m.user.get_full_name() or m.user.get_username()
    elif group_by == "discipline":
        found.update(disciplines(organisation_id))
    elif group_by == "severity":
        for band in load_instrument("phq9").bands:
            found[band.code] = f"{band.label} ({band.min}-{band.max})"
    return found
