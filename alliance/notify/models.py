"""The outbox: every email is written here in the transaction that caused it, then a worker
sends it. A message never holds clinical content: it says where to look, not what is there."""

from __future__ import annotations

from django.db import models

from alliance.accounts.models import Organisation


class Message(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    kind = models.CharField(max_length=30)
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "created_at"])]
