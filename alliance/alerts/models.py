"""Alerts: each says why it fired, in numbers, and moves open -> acknowledged -> resolved."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from alliance.accounts.models import Membership, Organisation
from alliance.clients.models import Client, Episode
from alliance.measures.models import Response


class Kind(models.TextChoices):
    RISK = "risk", "Risk item endorsed"
    DETERIORATION = "deterioration", "Reliable deterioration"
    NOT_ON_TRACK = "not_on_track", "Not on track"
    RUPTURE = "rupture", "Alliance rupture"
    FOLLOW_UP = "follow_up", "Follow-up check-in"


# Lower is more urgent; the caseload sorts by it.
PRIORITY = {
    Kind.RISK: 1,
    Kind.DETERIORATION: 2,
    Kind.FOLLOW_UP: 2,
    Kind.RUPTURE: 3,
    Kind.NOT_ON_TRACK: 4,
}


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AlertQuerySet(models.QuerySet["Alert"]):
    def unresolved(self) -> AlertQuerySet:
        return self.exclude(status=Status.RESOLVED)


class Alert(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="alerts")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="alerts")
    response = models.ForeignKey(
        Response, on_delete=models.PROTECT, related_name="alerts", null=True, blank=True
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    priority = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField(help_text="Why it fired, in numbers")
    facts = models.JSONField(default=dict)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checklist = models.JSONField(default=dict)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    follow_up = models.TextField(blank=True, help_text="For a rupture: what the next rating showed")
    version = models.PositiveIntegerField(default=1)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "-opened_at"]
        constraints = [
            # One unresolved alert of a kind per episode; a new signal adds to it.
            models.UniqueConstraint(
                fields=["episode", "kind"],
                condition=~Q(status="resolved"),
                name="one_unresolved_alert_per_kind",
            )
        ]
        indexes = [models.Index(fields=["organisation", "status"])]
