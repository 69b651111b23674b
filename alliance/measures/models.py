"""What a client is asked and when (plan), the one-time links, and the answers they give."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from alliance.accounts.models import Membership, Organisation
from alliance.clients.models import Client, Encounter, Episode


class Timing(models.TextChoices):
    BEFORE = "before", "Before the session"
    AFTER = "after", "After the session"


class Schedule(models.TextChoices):
    EVERY = "every", "Every session"
    EVERY_NTH = "every_nth", "Every Nth session"
    INTAKE = "intake", "At intake (first session)"
    ENDING = "ending", "In the ending phase"


class PlanItem(models.Model):
    """One instrument of an episode's measurement plan."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="plan_items")
    instrument_id = models.CharField(max_length=60)
    timing = models.CharField(max_length=10, choices=Timing.choices)
    schedule = models.CharField(max_length=12, choices=Schedule.choices, default=Schedule.EVERY)
    every_n = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "instrument_id", "timing"], name="one_plan_item_per_timing"
            )
        ]
        ordering = ["timing", "pk"]


class MeasureLink(models.Model):
    """A one-time link for one encounter; only the SHA-256 of its token is stored."""

    # No index of their own for the organisation (the first column of the index in Meta) and
    # the creator (looked up only when a membership is deleted): claiming a link updates an
    # indexed column, so every index of the table is written again on every submission.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, db_index=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="links")
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="links")
    timing = models.CharField(max_length=10, choices=Timing.choices)
    instruments = models.JSONField()
    token_hash = models.CharField(max_length=64)  # unique: see Meta
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, db_index=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        # A constraint rather than unique=True, which on PostgreSQL adds a second index for
        # LIKE searches that nothing makes of a hash.
        constraints = [models.UniqueConstraint(fields=["token_hash"], name="one_link_per_token")]
        indexes = [models.Index(fields=["organisation", "completed_at", "expires_at"])]


class Source(models.TextChoices):
    LINK = "link", "Client, by link"
    FHIR = "fhir", "Another system (FHIR)"


class Response(models.Model):
    """One completed instrument: the answers and the scores the measurement core gave them."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    # The client and the link have no index of their own, which would be one more to write with
    # every response: they lead the (client, instrument_id, submitted_at) index and the unique
    # (link, instrument_id) one in Meta.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="responses")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="responses"
    )
    link = models.ForeignKey(
        MeasureLink,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="responses",
        db_index=False,
    )
    instrument_id = models.CharField(max_length=60)
    instrument_version = models.CharField(max_length=20)
    timing = models.CharField(max_length=10, choices=Timing.choices, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    answers = models.JSONField()
    total = models.IntegerField(null=True, blank=True)
    band = models.CharField(max_length=60, blank=True)
    complete = models.BooleanField()
    flags = models.JSONField(default=list)
    submitted_at = models.DateTimeField()
    external_id = models.CharField(max_length=200, blank=True)  # a FHIR response's own id

    class Meta:
        constraints = [
            # A link's instrument is answered once, however often the form is sent.
            models.UniqueConstraint(
                fields=["link", "instrument_id"],
                condition=Q(link__isnull=False),
                name="one_response_per_link_instrument",
            ),
            # A resource another system posts twice is stored once.
            models.UniqueConstraint(
                fields=["client", "external_id"],
                condition=Q(source="fhir"),
                name="one_response_per_fhir_resource",
            ),
        ]
        indexes = [models.Index(fields=["client", "instrument_id", "submitted_at"])]
        ordering = ["submitted_at", "pk"]
