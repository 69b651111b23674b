"""The client's own page, opened from their link: the relapse-prevention plan they wrote with
their clinician (always, once it exists) and their progress in plain words (when the clinician
has turned that on). A used link keeps opening it until the link expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from alliance.agency.endings import PLAN_FIELDS, PLAN_LABELS
from alliance.agency.models import (
    ClientView,
    Goal,
    GoalRating,
    GoalStatus,
    Moment,
    RelapsePlan,
)
from alliance.audit.log import record
from alliance.clients.models import Phase
from alliance.measures.models import MeasureLink
from alliance.measures.summary import Series, episode_series

# Plain names for the shipped measures; a clinic's own measures show their short name.
PLAIN_NAMES = {
    "phq9": "Low mood",
    "gad7": "Worry and anxiety",
    "phq2": "Low mood (short)",
    "gad2": "Worry and anxiety (short)",
    "alliance-session-check": "How the sessions feel to you",
}


@dataclass(frozen=True)
class Own:
    plan: bool
    progress: bool

    @property
    def label(self) -> str:
        if self.plan and self.progress:
            return "Your plan for staying well, and your progress"
        return "Your plan for staying well" if self.plan else "Your progress so far"


def usable(link: MeasureLink) -> bool:
    """Open or answered, not expired, and the episode not closed."""
    if link.revoked_at or link.expires_at <= timezone.now():
        return False
    return link.encounter.episode.phase != Phase.CLOSED


def available(link: MeasureLink, known: tuple[bool, bool] | None = None) -> Own | None:
    """What the client's own page shows, if anything; `known` is (plan, progress) when the
    caller read them already."""
    if not usable(link):
        return None
    if known is not None:
        plan, progress = known
    else:
        plan = RelapsePlan.objects.filter(episode_id=link.encounter.episode_id).exists()
        progress = ClientView.objects.filter(client_id=link.client_id, enabled=True).exists()
    return Own(plan, progress) if plan or progress else None


@dataclass(frozen=True)
class Line:
    name: str
    words: str


def plain_words(series: Series) -> Line:
    name = PLAIN_NAMES.get(series.instrument.id, series.name)
    intake, latest = series.intake, series.latest
    assert intake is not None
    assert latest is not None
    if len(series.points) == 1:
        return Line(name, f"{latest.total} so far: the next answers will show how it moves.")
    if series.instrument.id == "alliance-session-check":
        return Line(
            name, f"{latest.total} of 40 last time (higher means the sessions feel better)."
        )
    lower = (
        "lower is better"
        if series.instrument.direction == "higher-is-worse"
        else "higher is better"
    )
    reliable = series.reliable
    verdict = {
        "improved": "That is a real improvement, bigger than day-to-day ups and downs.",
        "deteriorated": "That is a real change for the worse; it is worth talking about together.",
        "no reliable change": "That is within the usual ups and downs so far.",
    }.get(reliable, "")
    words = f"{intake.total} when you started, {latest.total} most recently ({lower})."
    return Line(name, f"{words} {verdict}".strip())


@dataclass
class OwnView:
    own: Own
    plan: RelapsePlan | None
    lines: list[Line]
    goals: list[tuple[Goal, int | None]]
    moments: list[Moment]


def read(link: MeasureLink, own: Own) -> OwnView:
    """Everything the client's own page shows; the read is audited against their record."""
    episode = link.encounter.episode
    plan = RelapsePlan.objects.filter(episode=episode).first() if own.plan else None
    lines: list[Line] = []
    goals: list[tuple[Goal, int | None]] = []
    moments: list[Moment] = []
    if own.progress:
        lines = [plain_words(s) for s in episode_series(episode)]
        active = list(Goal.objects.filter(episode=episode, status=GoalStatus.ACTIVE))
        latest: dict[int, int] = dict(
            GoalRating.objects.filter(goal__in=active)
            .order_by("rated_at", "pk")
            .values_list("goal_id", "rating")
        )
        goals = [(g, latest.get(g.pk)) for g in active]
        moments = list(Moment.objects.filter(episode=episode).order_by("-happened_on", "-pk")[:20])
    record(
        "link.own_view",
        organisation_id=link.organisation_id,
        client_id=link.client_id,
        object_type="link",
        object_id=link.pk,
        detail={"plan": own.plan, "progress": own.progress},
    )
    return OwnView(own, plan, lines, goals, moments)


def plan_sections(plan: RelapsePlan) -> list[tuple[str, str]]:
    return [(PLAN_LABELS[name], getattr(plan, name)) for name in PLAN_FIELDS]


def plan_pdf(plan: RelapsePlan, clinic_name: str) -> bytes:
    """The plan on one page for the client to keep; no name or record number on it."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="My plan for staying well",
        author="Alliance",
        pageCompression=0,
    )
    styles = getSampleStyleSheet()
    story = [
        Paragraph("My plan for staying well", styles["Title"]),
        Paragraph(escape(f"Written with {clinic_name}"), styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    for label, text in plan_sections(plan):
        story.append(Paragraph(escape(label), styles["Heading2"]))
        for para in (text or "—").split("\n"):
            story.append(Paragraph(escape(para) or "&nbsp;", styles["BodyText"]))
        story.append(Spacer(1, 3 * mm))
    updated = timezone.localtime(plan.updated_at)
    story.append(Paragraph(escape(f"Last updated {updated:%d %B %Y}"), styles["Italic"]))
    doc.build(story)
    return buffer.getvalue()
