"""Consented stories: a client's own words, offered for the clinic's advocacy material.

The client offers them from their link, with consent; a clinician of their care team reviews the
words and removes anything that could identify them before anything is shared; withdrawal (by
the client from their link, or by the clinician at the client's request) blanks the words and
takes the story out of every report from then on.
"""

from __future__ import annotations

from django.db import models

from alliance.accounts.models import Membership, Organisation
from alliance.clients.models import Client, Episode

STORY_TEXT = 600


class StoryStatus(models.TextChoices):
    OFFERED = "offered", "Offered, waiting for review"
    SHARED = "shared", "Reviewed and shared"
    DECLINED = "declined", "Reviewed, not used"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Story(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="stories")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="stories")
    words = models.CharField(max_length=STORY_TEXT)  # as the client wrote them
    consented_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=StoryStatus.choices, default=StoryStatus.OFFERED
    )
    shared_text = models.CharField(max_length=STORY_TEXT, blank=True)  # de-identified
    reviewed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-consented_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "status"])]
