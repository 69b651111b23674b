"""The coordinator's registry: every client in treatment on the actor's teams, with the
treat-to-target flags of collaborative care.

One query reads every row, whatever the number of clients (each figure is a subquery), and
one more reads the clinic's settings; sorting and filtering by flag then happen on the rows.

Flags, with the clinic's settings (defaults from collaborative-care practice: Unutzer et al.,
JAMA 2002, the IMPACT trial, and the AIMS Center's registry guidance, which change a treatment
that has brought no reliable improvement by week 10-12 and follow up a client not reached for
two weeks):
- no reliable improvement on PHQ-9 or GAD-7 after `target_weeks` weeks in treatment (reliable
  change as the instrument files define it, from the sources they name);
- no attended contact for `contact_days` days;
- a measure link of the last four weeks that expired unanswered;
- a share of the needs profile with no owner;
- flagged to discuss with the consultant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Subquery,
    Sum,
)
from django.utils import timezone

from alliance.accounts.actor import Actor
from alliance.accounts.models import clinic_settings
from alliance.audit.log import record
from alliance.care.models import CaseReview, NeedShare, NeedsProfile, ReviewStatus
from alliance.clients.access import visible_clients
from alliance.clients.models import Attendance, Encounter, Episode, Phase
from alliance.measurement import load_instrument
from alliance.measures.models import MeasureLink, Response

MISSED_WINDOW = timedelta(days=28)
OUTCOMES = ("phq9", "gad7")

FLAGS = {
    "not_improving": "No reliable improvement",
    "no_contact": "No contact",
    "missed": "Missed measures",
    "unmet": "Unmet needs",
    "discuss": "Discuss with consultant",
}
SORTS = {
    "flags": "Most flags",
    "weeks": "Weeks in treatment",
    "contact": "Longest without contact",
    "unmet": "Unmet needs",
    "name": "Name",
}


@dataclass
class Row:
    pk: int
    name: str
    record: str
    episode_id: int
    phase: str
    opened_on: date
    weeks: int
    last_contact: datetime | None
    scores: dict[str, tuple[int | None, int | None]]  # instrument -> (intake, latest)
    improved: bool
    missed: int
    profile_version: int | None
    unmet: int
    discuss: bool
    flags: list[str] = field(default_factory=list)

    def score_text(self, instrument_id: str) -> str:
        intake, latest = self.scores.get(instrument_id, (None, None))
        if latest is None:
            return ""
        return f"{intake} → {latest}" if intake is not None else str(latest)

    @property
    def phq9_text(self) -> str:
        return self.score_text("phq9")

    @property
    def gad7_text(self) -> str:
        return self.score_text("gad7")

    @property
    def flag_labels(self) -> list[str]:
        return [FLAGS[f] for f in self.flags]


def _score(instrument_id: str, newest: bool) -> Subquery:
    order = ("-submitted_at", "-pk") if newest else ("submitted_at", "pk")
    rows = Response.objects.filter(
        episode_id=OuterRef("episode_id"), instrument_id=instrument_id, complete=True
    ).order_by(*order)
    return Subquery(rows.values("total")[:1], output_field=IntegerField())


def _rows(actor: Actor, now: datetime) -> list[Row]:
    open_episode = Episode.objects.filter(client=OuterRef("pk")).exclude(phase=Phase.CLOSED)
    newest_open = open_episode.order_by("-opened_on", "-pk")
    latest_profile = NeedsProfile.objects.filter(episode_id=OuterRef("episode_id")).order_by(
        "-version"
    )
    unmet = (
        NeedShare.objects.filter(
            profile_id=Subquery(
                NeedsProfile.objects.filter(episode_id=OuterRef(OuterRef("episode_id")))
                .order_by("-version")
                .values("pk")[:1]
            ),
            owner__isnull=True,
        )
        .values("profile_id")
        .annotate(total=Sum("percent"))
        .values("total")
    )
    missed = (
        MeasureLink.objects.filter(
            encounter__episode_id=OuterRef("episode_id"),
            completed_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__lt=now,
            expires_at__gte=now - MISSED_WINDOW,
        )
        .values("encounter__episode_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    contact = (
        Encounter.objects.filter(
            client=OuterRef("pk"), attendance=Attendance.ATTENDED, starts_at__lte=now
        )
        .values("client_id")
        .annotate(last=Max("starts_at"))
        .values("last")
    )
    scores = {
        f"{i}_{end}": _score(i, end == "latest") for i in OUTCOMES for end in ("intake", "latest")
    }
    found = (
        visible_clients(actor)
        .annotate(
            episode_id=Subquery(newest_open.values("pk")[:1]),
            phase=Subquery(newest_open.values("phase")[:1]),
            opened_on=Subquery(newest_open.values("opened_on")[:1]),
        )
        .filter(episode_id__isnull=False)
        .annotate(
            last_contact=Subquery(contact),
            missed=Subquery(missed, output_field=IntegerField()),
            profile_version=Subquery(latest_profile.values("version")[:1]),
            unmet=Subquery(unmet, output_field=IntegerField()),
            discuss=Exists(
                CaseReview.objects.filter(episode_id=OuterRef("episode_id")).exclude(
                    status=ReviewStatus.CLOSED
                )
            ),
            **scores,
        )
        .values(
            "pk",
            "display_name",
            "record_number",
            "episode_id",
            "phase",
            "opened_on",
            "last_contact",
            "missed",
            "profile_version",
            "unmet",
            "discuss",
            *scores,
        )
    )
    today = timezone.localdate(now)
    rows = []
    for v in found:
        pairs = {i: (v[f"{i}_intake"], v[f"{i}_latest"]) for i in OUTCOMES}
        rows.append(
            Row(
                pk=v["pk"],
                name=v["display_name"],
                record=v["record_number"],
                episode_id=v["episode_id"],
                phase=v["phase"],
                opened_on=v["opened_on"],
                weeks=max((today - v["opened_on"]).days // 7, 0),
                last_contact=v["last_contact"],
                scores=pairs,
                improved=any(_reliably_improved(i, *pairs[i]) for i in OUTCOMES),
                missed=v["missed"] or 0,
                profile_version=v["profile_version"],
                unmet=v["unmet"] or 0,
                discuss=bool(v["discuss"]),
            )
        )
    return rows


def _reliably_improved(instrument_id: str, intake: int | None, latest: int | None) -> bool:
    """A fall of at least the instrument's reliable change index (its file names the source)."""
    rc = load_instrument(instrument_id).reliable_change
    if intake is None or latest is None or rc is None:
        return False
    return intake - latest >= rc.value


def flag(rows: Iterable[Row], *, target_weeks: int, contact_days: int, now: datetime) -> None:
    for row in rows:
        row.flags = []
        if row.weeks >= target_weeks and not row.improved:
            row.flags.append("not_improving")
        since = row.last_contact or datetime.combine(
            row.opened_on, datetime.min.time(), tzinfo=timezone.get_current_timezone()
        )
        if now - since >= timedelta(days=contact_days):
            row.flags.append("no_contact")
        if row.missed:
            row.flags.append("missed")
        if row.unmet:
            row.flags.append("unmet")
        if row.discuss:
            row.flags.append("discuss")


ORDER = {
    "flags": lambda r: (-len(r.flags), -r.weeks, r.name.lower(), r.pk),
    "weeks": lambda r: (-r.weeks, r.name.lower(), r.pk),
    "contact": lambda r: (r.last_contact is not None, r.last_contact or 0, r.name.lower(), r.pk),
    "unmet": lambda r: (-(100 if r.profile_version is None else r.unmet), r.name.lower(), r.pk),
    "name": lambda r: (r.name.lower(), r.pk),
}


@dataclass(frozen=True)
class Registry:
    rows: list[Row]
    total: int
    counts: dict[str, int]
    target_weeks: int
    contact_days: int


def registry(
    actor: Actor,
    *,
    sort: str = "flags",
    only: str = "",
    query: str = "",
    action: str = "registry.view",
) -> Registry:
    """The registry's rows for this actor, filtered and sorted; the read is audited once."""
    now = timezone.now()
    settings = clinic_settings(actor.organisation_id)
    rows = _rows(actor, now)
    flag(rows, target_weeks=settings.target_weeks, contact_days=settings.contact_days, now=now)
    counts = {key: sum(1 for r in rows if key in r.flags) for key in FLAGS}
    shown = [r for r in rows if not only or only in r.flags]
    if query:
        q = query.lower()
        shown = [r for r in shown if q in r.name.lower() or q in r.record.lower()]
    shown.sort(key=ORDER.get(sort, ORDER["flags"]))
    record(action, actor=actor, object_type="client", detail={"clients": len(shown)})
    return Registry(shown, len(rows), counts, settings.target_weeks, settings.contact_days)


HEADER = [
    "record_number",
    "name",
    "phase",
    "weeks_in_treatment",
    "last_contact",
    "phq9_intake",
    "phq9_latest",
    "gad7_intake",
    "gad7_latest",
    "reliable_improvement",
    "missed_measures_28d",
    "unmet_needs_percent",
    "discuss_with_consultant",
    "flags",
]


def spreadsheet_cell(value: object) -> str:
    """A spreadsheet cell that cannot start a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(found: Registry) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for r in found.rows:
        writer.writerow(
            spreadsheet_cell(v)
            for v in [
                r.record,
                r.name,
                r.phase,
                r.weeks,
                timezone.localtime(r.last_contact).date().isoformat() if r.last_contact else "",
                *(x for i in OUTCOMES for x in r.scores[i]),
                "yes" if r.improved else "no",
                r.missed,
                "" if r.profile_version is None else r.unmet,
                "yes" if r.discuss else "no",
                ";".join(r.flags),
            ]
        )
    return out.getvalue()


__all__ = ["FLAGS", "SORTS", "Registry", "Row", "as_csv", "flag", "registry"]
