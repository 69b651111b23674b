"""The client as the agent of change: goals in their own words, small victories and
breakthroughs, thank-you messages, and an episode planned with its ending in view.

Every row but KeptThanks is client data: it carries its organisation and is read and written
only through alliance.agency.access and alliance.agency.actions. KeptThanks belongs to a
clinician's account, holds the client's initials only, and no link back to the record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from alliance.accounts.models import Membership, Organisation
from alliance.clients.models import Client, Encounter, Episode
from alliance.measures.models import MeasureLink

MAX_GOALS = 5  # "up to a handful": more than five active goals dilutes each one
GOAL_TEXT = 300
MOMENT_TEXT = 600
THANKS_TEXT = 1000
PLAN_TEXT = 2000


class Author(models.TextChoices):
    CLIENT = "client", "The client"
    CLINICIAN = "clinician", "A clinician with the client"


class GoalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class Goal(models.Model):
    """A goal written in the client's own words; revisions keep every earlier wording."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="goals")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="goals")
    text = models.CharField(max_length=GOAL_TEXT)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    written_by = models.CharField(max_length=10, choices=Author.choices)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=300, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["episode", "status"])]


class ChangeKind(models.TextChoices):
    CREATED = "created", "Written"
    REVISED = "revised", "Reworded"
    RETIRED = "retired", "Retired"


class GoalChange(models.Model):
    """One step in a goal's history: written, reworded (with the new words), or retired."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    goal = models.ForeignKey(Goal, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=10, choices=ChangeKind.choices)
    text = models.CharField(max_length=GOAL_TEXT)
    reason = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class GoalRating(models.Model):
    """The client's 0-10 rating of progress on one goal (Alliance's goal-progress rating)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="goal_ratings")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="goal_ratings")
    goal = models.ForeignKey(Goal, on_delete=models.PROTECT, related_name="ratings")
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, null=True, blank=True)
    link = models.ForeignKey(MeasureLink, on_delete=models.PROTECT, null=True, blank=True)
    rating = models.PositiveSmallIntegerField()
    rated_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Author.choices)

    class Meta:
        ordering = ["rated_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__lte=10), name="goal_rating_0_to_10"),
            models.UniqueConstraint(
                fields=["goal", "link"], condition=Q(link__isnull=False), name="one_rating_per_link"
            ),
        ]


class MomentKind(models.TextChoices):
    VICTORY = "victory", "Small victory"
    BREAKTHROUGH = "breakthrough", "Breakthrough"


class Visibility(models.TextChoices):
    TEAM = "team", "The whole care team"
    THERAPIST = "therapist", "Only my therapist"


class Moment(models.Model):
    """A small victory or a breakthrough, dated, optionally tied to a goal."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="moments")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="moments")
    kind = models.CharField(max_length=15, choices=MomentKind.choices)
    text = models.CharField(max_length=MOMENT_TEXT)
    happened_on = models.DateField()
    goal = models.ForeignKey(
        Goal, on_delete=models.PROTECT, null=True, blank=True, related_name="moments"
    )
    written_by = models.CharField(max_length=10, choices=Author.choices)
    created_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who the client meant to see a note they wrote: the team, or only their lead clinician.
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default="team")
    therapist = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    link = models.OneToOneField(MeasureLink, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["happened_on", "pk"]


class Thanks(models.Model):
    """A thank-you the client left on their link page, to one clinician or the team."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="thanks")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="thanks")
    to = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="thanks"
    )  # None: the whole care team
    message = models.CharField(max_length=THANKS_TEXT)
    link = models.OneToOneField(MeasureLink, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "pk"]


class KeptThanks(models.Model):
    """A thank-you a clinician keeps: it travels with their account, not the client record.

    Only the words, the client's initials and the month are kept; `source` is a keyed hash of
    the original so the same message is kept once, and it cannot be traced back without the key.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kept_thanks"
    )
    message = models.CharField(max_length=THANKS_TEXT)
    initials = models.CharField(max_length=8)  # "A.B.C." at most
    received = models.DateField(help_text="The first day of the month it arrived")
    source = models.CharField(max_length=64)
    kept_at = models.DateTimeField()

    class Meta:
        ordering = ["-received", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "source"], name="thanks_kept_once"),
        ]


class CollectionChoice(models.Model):
    """A clinician's choice to keep a gratitude collection at all (on unless turned off)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gratitude_choice"
    )
    enabled = models.BooleanField(default=True)


class ClientView(models.Model):
    """Whether the client sees their own progress on their link page (off until turned on)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.OneToOneField(Client, on_delete=models.PROTECT, related_name="own_view")
    enabled = models.BooleanField(default=False)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")


class Review(models.Model):
    """A review of the planned number of sessions, with the count attended at the time."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="reviews")
    at = models.DateTimeField()
    by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    attended = models.PositiveSmallIntegerField()
    planned_before = models.PositiveSmallIntegerField(null=True, blank=True)
    planned_after = models.PositiveSmallIntegerField()
    note = models.CharField(max_length=600, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class PhaseChange(models.Model):
    """Each move of an episode between phases, kept so that re-opening keeps the history."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="phase_changes")
    from_phase = models.CharField(max_length=20)
    to_phase = models.CharField(max_length=20)
    at = models.DateTimeField()
    by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=600, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class RelapsePlan(models.Model):
    """Written with the client in the ending phase; they keep it on their link page and as PDF."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="relapse_plans")
    episode = models.OneToOneField(Episode, on_delete=models.PROTECT, related_name="relapse_plan")
    warning_signs = models.TextField(max_length=PLAN_TEXT)
    what_helps = models.TextField(max_length=PLAN_TEXT)
    who_to_contact = models.TextField(max_length=PLAN_TEXT)
    what_to_do = models.TextField(max_length=PLAN_TEXT)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)


class CheckInStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Link sent"
    ANSWERED = "answered", "Answered"
    CANCELLED = "cancelled", "Cancelled"


class CheckIn(models.Model):
    """A follow-up check-in after discharge: a follow-up encounter, due some months on."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="check_ins")
    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="check_in")
    months = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    status = models.CharField(
        max_length=10, choices=CheckInStatus.choices, default=CheckInStatus.SCHEDULED
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "pk"]
