"""The band in use for a clinic and instrument, as the alert rules and the chart read it.

A fit is never changed once stored, so a process keeps the ones it has read, by id: the
submission path reads the clinic's settings anyway, finds the fit's id there, and costs no query
for the band after the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from alliance.accounts.models import ClinicSettings
from alliance.trajectories.models import TrajectoryFit


@dataclass(frozen=True)
class Expected:
    """A stored band table: lower, expected and upper score by intake score and session."""

    fit_id: int
    instrument_id: str
    fitted_on: date
    episodes: int
    sessions: tuple[int, ...]
    lower_q: float
    upper_q: float
    rows: dict[int, tuple[tuple[float, float, float], ...]]

    def band(self, intake: int, session: int) -> tuple[float, float, float] | None:
        """The band at a measured session (2 on; past the last stored session, the last), or
        None for an intake score the table does not hold."""
        line = self.rows.get(intake)
        if line is None or session < self.sessions[0]:
            return None
        index = min(session, self.sessions[-1]) - self.sessions[0]
        return line[index]

    @property
    def upper_percentile(self) -> int:
        return round(self.upper_q * 100)

    @property
    def lower_percentile(self) -> int:
        return round(self.lower_q * 100)


def expected_for(clinic: ClinicSettings, instrument_id: str) -> Expected | None:
    """The clinic's band for the instrument, or None (no fit yet, or turned off)."""
    if not clinic.use_fitted_bands:
        return None
    fit_id = (clinic.trajectory_fits or {}).get(instrument_id)
    if not isinstance(fit_id, int):
        return None
    found = _load(fit_id)
    if found is None or found.instrument_id != instrument_id:
        return None
    return found


_loaded: dict[int, Expected] = {}


def forget() -> None:
    """Drop the fits this process has read (tests: a rolled-back database reuses ids)."""
    _loaded.clear()


def _load(fit_id: int) -> Expected | None:
    found = _loaded.get(fit_id)
    if found is not None:
        return found
    fit = TrajectoryFit.objects.filter(pk=fit_id).first()
    if fit is None:
        return None
    bands = fit.bands
    rows = {
        int(intake): tuple((float(a), float(b), float(c)) for a, b, c in line)
        for intake, line in bands["rows"].items()
    }
    if len(_loaded) > 256:
        _loaded.clear()
    found = _loaded[fit_id] = Expected(
        fit_id=fit.pk,
        instrument_id=fit.instrument_id,
        fitted_on=timezone.localtime(fit.fitted_at).date(),
        episodes=fit.episodes,
        sessions=tuple(int(s) for s in bands["sessions"]),
        lower_q=float(bands["lower_q"]),
        upper_q=float(bands["upper_q"]),
        rows=rows,
    )
    return found
