"""The demo's whole-person care: needs profiles shared across disciplines, a care plan whose
sharing follows the client's consent, the people in clients' lives, handoffs and consultant
case reviews. Every name and word is invented."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from django.utils import timezone

from alliance.accounts.models import Membership, Organisation
from alliance.audit.log import record
from alliance.care.models import (
    CareItem,
    CaseReview,
    Handoff,
    HandoffRead,
    NeedShare,
    NeedsProfile,
    Relationship,
    ReviewStatus,
    SharingConsent,
)
from alliance.clients.models import CareRole, CareTeamMember, Client, Episode, Phase

# (discipline, percent, owner's username or None for unmet, the need)
SHARES = [
    ("psychology", 45, "alex", "Low mood, worry, avoiding people"),
    ("psychiatry", 20, "sam", "Medication review; sleep"),
    ("social_work", 25, None, "Rent arrears and an eviction letter"),
    ("physical_health", 10, None, "Back pain that stops her walking"),
]
# (discipline, owner, need, goal, action, status, days until due)
ITEMS = [
    (
        "psychology",
        "alex",
        "Low mood",
        "Enjoy one planned activity a day",
        "Behavioural activation: weekly plan reviewed each session",
        "under_way",
        14,
    ),
    (
        "psychiatry",
        "sam",
        "Sleep and medication",
        "Sleep six hours most nights",
        "Review sertraline dose; sleep diary for two weeks",
        "planned",
        10,
    ),
    (
        "social_work",
        None,
        "Rent arrears",
        "Keep the flat",
        "Needs an owner: contact the housing officer about a payment plan",
        "planned",
        7,
    ),
]
RECOMMENDATION = (
    "Plan the ending at session 8 and write the relapse plan together; "
    "offer check-ins at one and three months."
)
PEOPLE = [
    ("Dr Amara Osei", "provider", "Family doctor for fifteen years; knows her history", True),
    ("Lena", "family", "Sister; drives her to appointments", True),
    ("Mr Patel", "community", "Landlord; the arrears letters come from him", False),
]


def add_care(
    org: Organisation, staff: dict[str, Membership], *, skip: list[str], today: date
) -> None:
    """Fill in the care of a few of Alex's clients (never the story clients)."""
    told: Counter[str] = Counter()
    episodes = list(
        Episode.objects.filter(
            organisation=org,
            phase__in=(Phase.ENGAGEMENT, Phase.WORKING, Phase.ENDING),
            client__care_team__membership=staff["alex"],
            client__care_team__care_role=CareRole.LEAD,
        )
        .exclude(client__record_number__in=skip)
        .select_related("client")
        .order_by("client__record_number")[:4]
    )
    now = timezone.now()
    for n, episode in enumerate(episodes):
        client = episode.client
        for name in ("sam", "jo"):
            _on_team(org, client, staff[name])
        _needs(
            org,
            episode,
            staff,
            now - timedelta(days=20 - n),
            shares=SHARES if n == 0 else [*SHARES[:2], ("social_work", 35, "jo", "Benefits claim")],
        )
        told["needs_profiles"] += 1
        if n == 0:
            _items(org, episode, staff, now, today)
            _consent(org, client, staff, today)
            _people(org, client, staff["alex"], now)
            _handoff(org, client, staff, now)
            told["care_items"] += len(ITEMS)
    if len(episodes) > 1:
        _review(
            org,
            episodes[1],
            staff,
            now,
            answered=False,
            question="Twelve weeks and PHQ-9 has not moved: step up to a medication review?",
        )
        told["reviews"] += 1
    if len(episodes) > 2:
        _review(
            org,
            episodes[2],
            staff,
            now,
            answered=True,
            question="Improving well: plan the ending at session 8, or keep going to 12?",
        )
        told["reviews"] += 1
    record("demo.care", organisation_id=org.pk, detail=dict(sorted(told.items())))


def _on_team(org: Organisation, client: Client, member: Membership) -> None:
    CareTeamMember.objects.get_or_create(
        organisation=org,
        client=client,
        membership=member,
        ended_at=None,
        defaults={"discipline": member.discipline, "care_role": CareRole.MEMBER},
    )


def _needs(
    org: Organisation,
    episode: Episode,
    staff: dict[str, Membership],
    at: datetime,
    *,
    shares: list[tuple[str, int, str | None, str]],
) -> None:
    profile = NeedsProfile.objects.create(
        organisation=org,
        client=episode.client,
        episode=episode,
        version=1,
        agreed_with_client=True,
        reason="Worked out together at the second session",
        changed_by=staff["alex"],
        changed_at=at,
    )
    NeedShare.objects.bulk_create(
        NeedShare(
            profile=profile,
            discipline=d,
            percent=p,
            owner=staff[o] if o else None,
            need=need,
        )
        for d, p, o, need in shares
    )


def _items(
    org: Organisation, episode: Episode, staff: dict[str, Membership], now: datetime, today: date
) -> None:
    for discipline, owner, need, goal, action, status, due in ITEMS:
        writer = staff[owner] if owner else staff["casey"]
        CareItem.objects.create(
            organisation=org,
            client=episode.client,
            episode=episode,
            discipline=discipline,
            need=need,
            goal=goal,
            action=action,
            owner=staff[owner] if owner else None,
            due_on=today + timedelta(days=due),
            status=status,
            created_by=writer,
            created_at=now - timedelta(days=12),
            updated_by=writer,
            updated_at=now - timedelta(days=12),
        )


def _consent(org: Organisation, client: Client, staff: dict[str, Membership], today: date) -> None:
    """The client agreed to share with psychology and psychiatry, not yet with social work."""
    for discipline in ("psychology", "psychiatry"):
        SharingConsent.objects.create(
            organisation=org,
            client=client,
            discipline=discipline,
            given_on=today - timedelta(days=14),
            recorded_by=staff["alex"],
            recorded_at=timezone.now() - timedelta(days=14),
        )


def _people(org: Organisation, client: Client, by: Membership, now: datetime) -> None:
    for name, kind, role, trusted in PEOPLE:
        Relationship.objects.create(
            organisation=org,
            client=client,
            name=name,
            kind=kind,
            role=role,
            trusted=trusted,
            added_by=by,
            added_at=now - timedelta(days=18),
        )


def _handoff(
    org: Organisation, client: Client, staff: dict[str, Membership], now: datetime
) -> None:
    read = Handoff.objects.create(
        organisation=org,
        client=client,
        sender=staff["sam"],
        recipient=staff["alex"],
        situation="Started sertraline 50 mg on Monday; mild nausea so far.",
        tried="Advised taking it with breakfast.",
        ask="Let me know if her sleep gets worse in the next fortnight.",
        created_at=now - timedelta(days=6),
    )
    HandoffRead.objects.create(handoff=read, reader=staff["alex"], read_at=now - timedelta(days=5))
    Handoff.objects.create(
        organisation=org,
        client=client,
        sender=staff["alex"],
        recipient=staff["jo"],
        situation="An eviction letter arrived; she is frightened and not sleeping.",
        tried="We made a list of what she owes; her sister can help with calls.",
        ask="Could you see her about the arrears before the 1st?",
        created_at=now - timedelta(days=1),
    )


def _review(
    org: Organisation,
    episode: Episode,
    staff: dict[str, Membership],
    now: datetime,
    *,
    answered: bool,
    question: str,
) -> None:
    CaseReview.objects.create(
        organisation=org,
        client=episode.client,
        episode=episode,
        question=question,
        status=ReviewStatus.ANSWERED if answered else ReviewStatus.OPEN,
        flagged_by=staff["casey"],
        flagged_at=now - timedelta(days=4),
        consultant=staff["morgan"] if answered else None,
        recommendation=RECOMMENDATION if answered else "",
        answered_at=now - timedelta(days=1) if answered else None,
        version=2 if answered else 1,
    )
