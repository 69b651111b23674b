"""A clinician's private journal and wellbeing check-ins, readable by their author alone.

Everything an entry says (its text, prompt, tags and linked client) lives inside one encrypted
token (see crypto.py); the columns beside it say only who wrote it and when.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from alliance.accounts.models import User

SCORE_MIN, SCORE_MAX = 0, 10


class Prompt(models.TextChoices):
    MOVED = "moved", "What moved me today"
    NOTICED = "noticed", "What I noticed in myself"
    TEACHING = "teaching", "What this work is teaching me"
    NEED = "need", "What I need"


class JournalEntry(models.Model):
    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="journal_entries")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    ciphertext = models.TextField()  # a Fernet token of {"text", "prompt", "tags", "client_ref"}
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["author", "-created_at"], name="journal_by_author")]


class JournalRevision(models.Model):
    """An earlier wording of an entry, kept (encrypted) when the author edits it."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="revisions")
    replaced_at = models.DateTimeField(default=timezone.now)
    ciphertext = models.TextField()


def _score() -> models.PositiveSmallIntegerField[int, int]:
    return models.PositiveSmallIntegerField(
        validators=[MinValueValidator(SCORE_MIN), MaxValueValidator(SCORE_MAX)]
    )


class WellbeingCheckin(models.Model):
    """Four self-ratings of our own making; not a validated instrument."""

    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wellbeing_checkins")
    at = models.DateTimeField(default=timezone.now)
    energy = _score()
    load = _score()  # emotional load: high is heavy
    meaning = _score()
    support = _score()

    class Meta:
        indexes = [models.Index(fields=["author", "-at"], name="checkin_by_author")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(energy__lte=SCORE_MAX)
                & models.Q(load__lte=SCORE_MAX)
                & models.Q(meaning__lte=SCORE_MAX)
                & models.Q(support__lte=SCORE_MAX),
                name="checkin_scores_at_most_10",
            )
        ]


class Rhythm(models.IntegerChoices):
    DAILY = 1, "Every day"
    TWICE_WEEKLY = 3, "Every few days"
    WEEKLY = 7, "Every week"
    FORTNIGHTLY = 14, "Every two weeks"
    MONTHLY = 30, "Every month"


class WellbeingPreference(models.Model):
    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="wellbeing_preference"
    )
    rhythm_days = models.PositiveSmallIntegerField(choices=Rhythm.choices, default=Rhythm.WEEKLY)
    prompts_on = models.BooleanField(default=True)
