"""Fitted expected-recovery bands, one row per fit (never changed once written)."""

from __future__ import annotations

from django.db import models

from alliance.accounts.models import Organisation


class TrajectoryFit(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    instrument_id = models.CharField(max_length=60)
    fitted_at = models.DateTimeField()
    episodes = models.PositiveIntegerField()  # finished episodes in the fit
    observations = models.PositiveIntegerField()  # scores after intake
    model = models.JSONField()  # GrowthFit.to_json(): estimates, standard errors, REML
    # {"sessions": [2, ...], "lower_q": 0.1, "upper_q": 0.9,
    #  "rows": {"<intake>": [[lower, expected, upper], ...one per session]}}
    bands = models.JSONField()

    class Meta:
        ordering = ["-fitted_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "instrument_id", "fitted_at"])]
