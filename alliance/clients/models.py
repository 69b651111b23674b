"""Clients, their care teams, episodes of care and encounters (sessions).

Every row here is client data: it carries its organisation, and it is read and written only
through alliance.clients.access and alliance.clients.actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Exists, OuterRef, Q

from alliance.accounts.models import Discipline, Membership, Organisation, Role, Team

if TYPE_CHECKING:
    from alliance.accounts.actor import Actor


class ClientQuerySet(models.QuerySet["Client"]):
    def visible_to(self, actor: Actor) -> ClientQuerySet:
        """The clients this actor may see: never across organisations, never for admins."""
        if not actor.membership.is_clinical:
            return self.none()
        mine = self.filter(organisation_id=actor.organisation_id)
        on_care_team = Exists(
            CareTeamMember.objects.filter(
                client=OuterRef("pk"), membership_id=actor.membership.pk, ended_at__isnull=True
            )
        )
        if actor.membership.role == Role.COORDINATOR:
            # A coordinator keeps the registry of every client held by their service teams.
            return mine.filter(on_care_team | Q(team__members=actor.membership.pk))
        return mine.filter(on_care_team)


class Client(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, blank=True)
    display_name = models.CharField(max_length=120, help_text="A pseudonymous name for screens")
    record_number = models.CharField(max_length=40, help_text="The clinic's own identifier")
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "record_number"], name="record_number_unique_in_org"
            )
        ]

    def __str__(self) -> str:
        return self.display_name


class CareRole(models.TextChoices):
    LEAD = "lead", "Lead clinician"
    MEMBER = "member", "Team member"
    COORDINATOR = "coordinator", "Care coordinator"
    CONSULTANT = "consultant", "Consultant"


class CareTeamMember(models.Model):
    """Who is on a client's care team, in which discipline and role."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="care_team")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="care_of")
    discipline = models.CharField(max_length=30, choices=Discipline.choices, blank=True)
    care_role = models.CharField(max_length=20, choices=CareRole.choices, default=CareRole.MEMBER)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "membership"],
                condition=Q(ended_at__isnull=True),
                name="one_active_care_team_place",
            )
        ]


class Phase(models.TextChoices):
    ENGAGEMENT = "engagement", "Engagement"
    WORKING = "working", "Working"
    ENDING = "ending", "Ending"
    FOLLOW_UP = "follow_up", "Follow-up"
    CLOSED = "closed", "Closed"


class EndingReason(models.TextChoices):
    PLANNED = "planned", "Planned ending"
    MUTUAL = "mutual", "Mutually agreed early ending"
    DROPPED_OUT = "dropped_out", "Client stopped attending"
    REFERRED_ON = "referred_on", "Referred on"
    OTHER = "other", "Other"


class Episode(models.Model):
    """An episode of care, planned with its ending in view."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="episodes")
    opened_on = models.DateField()
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.ENGAGEMENT)
    planned_sessions = models.PositiveSmallIntegerField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    # The day treatment ended: discharge to follow-up, or closing without follow-up. Outcome
    # reports count a finished course in the period holding this day.
    ended_on = models.DateField(null=True, blank=True)
    ending_reason = models.CharField(max_length=20, choices=EndingReason.choices, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-opened_on"]


class Attendance(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ATTENDED = "attended", "Attended"
    CANCELLED = "cancelled", "Cancelled"
    DID_NOT_ATTEND = "dna", "Did not attend"


class EncounterKind(models.TextChoices):
    ASSESSMENT = "assessment", "Assessment"
    THERAPY = "therapy", "Therapy session"
    REVIEW = "review", "Review"
    FOLLOW_UP = "follow_up", "Follow-up"


class Encounter(models.Model):
    """One session of an episode."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="encounters")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="encounters")
    clinician = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True)
    starts_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=EncounterKind.choices)
    attendance = models.CharField(
        max_length=20, choices=Attendance.choices, default=Attendance.SCHEDULED
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["client", "starts_at"])]
