"""Synthetic PHQ-9-like and GAD-7-like episodes with known parameters (seeded, deterministic).

Each client has an intake score (measured session 1) and then measured sessions 2..L. Their
scores follow the growth model of ``lmm`` (log-linear recovery by intake severity, a client-level
random intercept and slope, independent residual noise), then are rounded to whole points and
clipped to the instrument's range. A ``deteriorating_fraction`` of clients are ground-truth
deteriorators: their log-session slope is positive (they get worse), drawn apart from the model.

The parameter values are **chosen to resemble** routine NHS Talking Therapies (formerly IAPT)
care; they are not estimates from any data set:

- Intake: PHQ-9 mean about 16, SD about 5, and GAD-7 mean about 14, SD about 4, clipped so that a
  minority start below caseness (PHQ-9 10, GAD-7 8); this resembles the mean scores at referral
  that the service's annual reports publish.
- Recovery: the typical client improves by about 6-7 PHQ-9 points (about 5 GAD-7 points) over an
  episode of about 7 measured sessions, the order of the mean pre-post change those reports give.
  More severe clients improve more in points (negative intake x log-session coefficient) and
  regress towards the mean (intake coefficient below 1).
- Residual SD: close to the standard error of measurement implied by the reliable-change
  thresholds (PHQ-9 6 points, GAD-7 4 points; S_diff = threshold / 1.96, SE = S_diff / sqrt 2,
  Jacobson & Truax 1991): about 2.2 and 1.5 points.
- Episode length: 2-20 measured sessions, right-skewed (log-normal), median 7.
- Deterioration: in routine care about 5-10% of clients end treatment reliably worse (Lambert MJ.
  The efficacy and effectiveness of psychotherapy. In: Bergin and Garfield's Handbook of
  Psychotherapy and Behavior Change, 6th ed., 2013). The default fraction is 0 (the model's own
  population); the validity study uses 8%.

``python -m alliance.trajectories.simulate --clients 500 --seed 2001 --out FILE.csv`` writes a
cohort as CSV (``group,session,score,intake``); the lme4 reference fixture was made that way.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from alliance.measurement import load_instrument

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class TrajectoryParams:
    """The generating model of one instrument; fixed effects are at c = intake - intake_mean."""

    instrument: str  # its range comes from the instrument's own file (alliance.measurement)
    intake_mean: float
    intake_sd: float
    intake_min: int
    intake_max: int
    intercept: float
    log_session: float
    intake_coef: float
    intake_x_log_session: float
    sd_intercept: float
    sd_slope: float
    corr_intercept_slope: float
    residual_sd: float
    median_sessions: float  # measured sessions, the intake included
    sessions_log_sd: float
    max_sessions: int
    deterioration_slope_mean: float  # points per unit of log(session), positive = worse
    deterioration_slope_sd: float
    deterioration_slope_min: float

    @property
    def min_total(self) -> int:
        return load_instrument(self.instrument).min_total

    @property
    def max_total(self) -> int:
        return load_instrument(self.instrument).max_total

    @property
    def random_cov(self) -> tuple[float, float, float]:
        cov = self.corr_intercept_slope * self.sd_intercept * self.sd_slope
        return (self.sd_intercept**2, cov, self.sd_slope**2)

    @property
    def residual_var(self) -> float:
        return self.residual_sd**2

    def fixed_at(self, centre: float) -> dict[str, float]:
        """The true fixed effects re-expressed for c = intake - centre (a fit's own centre)."""
        shift = self.intake_mean - centre
        return {
            "intercept": self.intercept - self.intake_coef * shift,
            "log_session": self.log_session - self.intake_x_log_session * shift,
            "intake": self.intake_coef,
            "intake_x_log_session": self.intake_x_log_session,
        }


PHQ9 = TrajectoryParams(
    instrument="phq9",
    intake_mean=16.0,
    intake_sd=5.0,
    intake_min=5,
    intake_max=27,
    intercept=15.5,
    log_session=-3.0,
    intake_coef=0.75,
    intake_x_log_session=-0.08,
    sd_intercept=3.0,
    sd_slope=1.5,
    corr_intercept_slope=-0.2,
    residual_sd=2.2,
    median_sessions=7.0,
    sessions_log_sd=0.5,
    max_sessions=20,
    deterioration_slope_mean=3.5,
    deterioration_slope_sd=1.0,
    deterioration_slope_min=1.0,
)

GAD7 = TrajectoryParams(
    instrument="gad7",
    intake_mean=14.0,
    intake_sd=4.0,
    intake_min=4,
    intake_max=21,
    intercept=13.5,
    log_session=-2.4,
    intake_coef=0.75,
    intake_x_log_session=-0.08,
    sd_intercept=2.5,
    sd_slope=1.2,
    corr_intercept_slope=-0.2,
    residual_sd=1.5,
    median_sessions=7.0,
    sessions_log_sd=0.5,
    max_sessions=20,
    deterioration_slope_mean=2.2,
    deterioration_slope_sd=0.8,
    deterioration_slope_min=0.8,
)

PARAMS: dict[str, TrajectoryParams] = {"phq9": PHQ9, "gad7": GAD7}


@dataclass(frozen=True)
class Cohort:
    """Rows: one per measured session s >= 2. Clients: ids 0..n_clients-1 index the per-client
    arrays. ``n_sessions`` counts measured sessions with the intake (rows per client + 1)."""

    group: IntArray
    session: IntArray
    score: FloatArray
    intake: FloatArray
    client_intake: FloatArray
    deteriorating: BoolArray
    n_sessions: IntArray
    params: TrajectoryParams

    @property
    def n_clients(self) -> int:
        return int(self.client_intake.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.group.shape[0])


def simulate_cohort(
    n_clients: int,
    seed: int,
    *,
    instrument: str = "phq9",
    deteriorating_fraction: float = 0.0,
    exact: bool = False,
    median_sessions: float | None = None,
    params: TrajectoryParams | None = None,
) -> Cohort:
    """``n_clients`` simulated episodes; the same arguments always give the same arrays.

    ``exact=True`` leaves scores and intakes unrounded and unclipped, so the data follow the
    fitted model exactly (for testing that a fit recovers the parameters). ``median_sessions``
    overrides the instrument's median episode length (measured sessions, the intake included).
    """
    if n_clients < 1:
        raise ValueError("n_clients must be at least 1")
    if not 0.0 <= deteriorating_fraction <= 1.0:
        raise ValueError("deteriorating_fraction must be between 0 and 1")
    p = params if params is not None else PARAMS[instrument]
    if median_sessions is not None:
        p = replace(p, median_sessions=float(median_sessions))
    rng = np.random.default_rng(seed)
    m = n_clients

    intake = rng.normal(p.intake_mean, p.intake_sd, m)
    if not exact:
        intake = np.clip(np.rint(intake), p.intake_min, p.intake_max)
    lengths = np.rint(np.exp(rng.normal(math.log(p.median_sessions), p.sessions_log_sd, m)))
    n_sessions = np.clip(lengths, 2, p.max_sessions).astype(np.int64)

    sd_i, sd_s, cov = p.sd_intercept, p.sd_slope, p.random_cov[1]
    # Correlated (intercept, slope) through the Cholesky factor of G.
    z = rng.standard_normal((m, 2))
    l10 = cov / sd_i if sd_i > 0 else 0.0
    l11 = math.sqrt(max(sd_s**2 - l10**2, 0.0))
    u0 = sd_i * z[:, 0]
    u1 = l10 * z[:, 0] + l11 * z[:, 1]

    deteriorating = np.zeros(m, dtype=np.bool_)
    n_det = round(deteriorating_fraction * m)
    if n_det:
        deteriorating[rng.permutation(m)[:n_det]] = True
    det_slope = np.maximum(
        rng.normal(p.deterioration_slope_mean, p.deterioration_slope_sd, m),
        p.deterioration_slope_min,
    )

    c = intake - p.intake_mean
    level = p.intercept + p.intake_coef * c + u0
    slope = p.log_session + p.intake_x_log_session * c + u1
    slope = np.where(deteriorating, det_slope, slope)

    rows = n_sessions - 1
    total = int(rows.sum())
    group = np.repeat(np.arange(m, dtype=np.int64), rows)
    starts = np.cumsum(rows) - rows
    session = (np.arange(total, dtype=np.int64) - np.repeat(starts, rows)) + 2
    log_s = np.log(session.astype(np.float64))
    score = level[group] + slope[group] * log_s + rng.normal(0.0, p.residual_sd, total)
    if not exact:
        score = np.clip(np.rint(score), p.min_total, p.max_total)
    return Cohort(
        group=group,
        session=session,
        score=score,
        intake=intake[group],
        client_intake=intake,
        deteriorating=deteriorating,
        n_sessions=n_sessions,
        params=p,
    )


def simulate_rows(
    n_rows: int,
    seed: int,
    *,
    instrument: str = "phq9",
    deteriorating_fraction: float = 0.0,
    exact: bool = False,
    median_sessions: float | None = None,
) -> Cohort:
    """A cohort of exactly ``n_rows`` rows: whole episodes, the last one cut short if needed."""
    if n_rows < 1:
        raise ValueError("n_rows must be at least 1")
    median = median_sessions if median_sessions is not None else PARAMS[instrument].median_sessions
    n_clients = max(2, math.ceil(1.2 * n_rows / max(median - 1.0, 1.0)) + 10)
    while True:
        cohort = simulate_cohort(
            n_clients,
            seed,
            instrument=instrument,
            deteriorating_fraction=deteriorating_fraction,
            exact=exact,
            median_sessions=median_sessions,
        )
        if cohort.n_rows >= n_rows:
            return _truncate(cohort, n_rows)
        n_clients *= 2


def _truncate(cohort: Cohort, n_rows: int) -> Cohort:
    last = int(cohort.group[n_rows - 1])
    n_sessions = cohort.n_sessions[: last + 1].copy()
    n_sessions[last] = 1 + int(np.count_nonzero(cohort.group[:n_rows] == last))
    return Cohort(
        group=cohort.group[:n_rows],
        session=cohort.session[:n_rows],
        score=cohort.score[:n_rows],
        intake=cohort.intake[:n_rows],
        client_intake=cohort.client_intake[: last + 1],
        deteriorating=cohort.deteriorating[: last + 1],
        n_sessions=n_sessions,
        params=cohort.params,
    )


def write_csv(cohort: Cohort, path: Path) -> None:
    """``group,session,score,intake``, one row per measured session s >= 2."""
    integral = bool(
        np.all(cohort.score == np.rint(cohort.score))
        and np.all(cohort.intake == np.rint(cohort.intake))
    )
    table = np.column_stack([cohort.group, cohort.session, cohort.score, cohort.intake])
    fmt = "%d" if integral else "%.17g"
    np.savetxt(
        path, table, fmt=fmt, delimiter=",", header="group,session,score,intake", comments=""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--instrument", choices=sorted(PARAMS), default="phq9")
    parser.add_argument("--deteriorating", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    cohort = simulate_cohort(
        args.clients,
        args.seed,
        instrument=args.instrument,
        deteriorating_fraction=args.deteriorating,
    )
    write_csv(cohort, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
