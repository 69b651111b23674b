"""The whole person: the client's needs shared out across disciplines, one care plan, the
client's consent to sharing it, the people in their life, handoffs and consultant case review.

Every row is client data: it carries its organisation and is read only through
alliance.care.access and changed only through alliance.care.actions.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from alliance.accounts.models import Membership, Organisation
from alliance.clients.models import Client, Episode

NEED_TEXT = 200
ITEM_TEXT = 600
HANDOFF_TEXT = 1000
REVIEW_TEXT = 2000
DISCIPLINE_KEY = 30


class ExtraDiscipline(models.Model):
    """A discipline a clinic adds to the built-in ones (e.g. occupational therapy)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    key = models.SlugField(max_length=DISCIPLINE_KEY)
    label = models.CharField(max_length=60)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="one_extra_discipline_key")
        ]


class NeedsProfile(models.Model):
    """One version of how an episode's needs are shared out; a change writes a new version."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="needs_profiles")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="needs_profiles")
    version = models.PositiveIntegerField()
    agreed_with_client = models.BooleanField(default=False)
    reason = models.CharField(max_length=300)
    changed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-version"]
        constraints = [
            # Two writers building on the same version: the database keeps only one.
            models.UniqueConstraint(fields=["episode", "version"], name="one_needs_version")
        ]


class NeedShare(models.Model):
    """A discipline's share of the client's needs, owned by a team member or unmet."""

    profile = models.ForeignKey(NeedsProfile, on_delete=models.PROTECT, related_name="shares")
    discipline = models.CharField(max_length=DISCIPLINE_KEY)
    percent = models.PositiveSmallIntegerField()
    need = models.CharField(max_length=NEED_TEXT, blank=True)
    owner = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["-percent", "discipline"]


class ItemStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    UNDER_WAY = "under_way", "Under way"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"


class CareItem(models.Model):
    """One line of the shared care plan: a discipline's need, goal and action, with its owner."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="care_items")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="care_items")
    discipline = models.CharField(max_length=DISCIPLINE_KEY)
    need = models.CharField(max_length=NEED_TEXT)
    goal = models.CharField(max_length=ITEM_TEXT, blank=True)
    action = models.CharField(max_length=ITEM_TEXT, blank=True)
    owner = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="care_items"
    )
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=ItemStatus.choices, default="planned")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["discipline", "due_on", "pk"]


class SharingConsent(models.Model):
    """The client's agreement that one discipline, or one provider, may see their whole plan.

    Without it a team member sees only their own discipline's items and those they own.
    Withdrawing sets withdrawn_at; every request reads consent afresh.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="consents")
    discipline = models.CharField(max_length=DISCIPLINE_KEY, blank=True)
    provider = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    given_on = models.DateField()
    recorded_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(discipline="") & Q(provider__isnull=False))
                | (~Q(discipline="") & Q(provider__isnull=True)),
                name="consent_names_a_discipline_or_a_provider",
            ),
            models.UniqueConstraint(
                fields=["client", "discipline"],
                condition=Q(withdrawn_at__isnull=True, provider__isnull=True),
                name="one_live_consent_per_discipline",
            ),
            models.UniqueConstraint(
                fields=["client", "provider"],
                condition=Q(withdrawn_at__isnull=True, provider__isnull=False),
                name="one_live_consent_per_provider",
            ),
        ]


class RelationshipKind(models.TextChoices):
    FAMILY = "family", "Family"
    FRIEND = "friend", "Friend"
    PROVIDER = "provider", "Provider outside this service"
    COMMUNITY = "community", "Community (faith, sponsor, group)"
    OTHER = "other", "Other"


class Relationship(models.Model):
    """Someone the client trusts or has history with, and the part they play."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="relationships")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=RelationshipKind.choices)
    role = models.CharField(max_length=NEED_TEXT)
    trusted = models.BooleanField(default=True)
    added_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-trusted", "name", "pk"]


class Handoff(models.Model):
    """A short, structured handoff from one team member to another (or to the whole team)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="handoffs")
    sender = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="handoffs_to"
    )
    situation = models.CharField(max_length=HANDOFF_TEXT)
    tried = models.CharField(max_length=HANDOFF_TEXT, blank=True)
    ask = models.CharField(max_length=HANDOFF_TEXT)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]


class HandoffRead(models.Model):
    """A read receipt: who opened the handoff, and when first."""

    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="reads")
    reader = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handoff", "reader"], name="one_read_receipt")
        ]


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Waiting for the consultant"
    ANSWERED = "answered", "Recommendation given"
    CLOSED = "closed", "Acknowledged by the care team"


class CaseReview(models.Model):
    """A client flagged to discuss with the consultant; closed once the team acknowledges
    the recommendation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="case_reviews")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="case_reviews")
    question = models.CharField(max_length=ITEM_TEXT)
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default="open")
    flagged_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    flagged_at = models.DateTimeField()
    consultant = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recommendation = models.TextField(max_length=REVIEW_TEXT, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["flagged_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["episode"],
                condition=~Q(status="closed"),
                name="one_open_review_per_episode",
            )
        ]
