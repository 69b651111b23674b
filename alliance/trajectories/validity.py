"""How good an alarm the expected-recovery bands make, on held-out simulated cohorts.

    python -m alliance.trajectories.validity [--instrument phq9] [--cohorts 20] [--seed 2001]

A training cohort (default 2,000 episodes, 8% ground-truth deteriorators, as a clinic's history
would contain them) is simulated and fitted. Then test cohorts of new clients, each from its own
seed and never seen by the fit, are scored session by session with each alarm rule, and we count:

- sensitivity by session 3: the share of true deteriorators alarmed at measured session 2 or 3;
- sensitivity: the share of true deteriorators alarmed at any session of their episode;
- false-alarm rate: the share of the other clients alarmed at any session;
- lead time, for alarmed deteriorators: the session at which they are first reliably worse than
  intake (by the instrument's reliable-change threshold, PHQ-9 6 points) or, if never, the last
  session of the episode, minus the session of the first alarm. Positive means the alarm came
  first. We report its median, and the share of alarmed deteriorators with a lead of 1 or more.

The rules compared: the 80th, 90th (the default) and 95th percentile bands of ``bands``; the
rule-based not-on-track condition of ``alliance/alerts/rules.py`` (from measured session 4, the
intake counting as session 1: latest at or above the caseness cut-off and improved on intake by
less than the reliable-change threshold); and the rules as ``change_signals`` fires them, which
adds reliable deterioration (latest worse than intake by the threshold) at any session. The
cut-off and threshold are read from the instrument's data file.

Each figure is given as the mean over test cohorts with the minimum and maximum.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alliance.measurement import load_instrument

from .bands import expected_bands
from .lmm import GrowthFit, fit_growth_model
from .simulate import Cohort, simulate_cohort

BoolArray = NDArray[np.bool_]
Alarm = Callable[[Cohort], BoolArray]


@dataclass(frozen=True)
class AlarmFigures:
    n_deteriorating: int
    n_other: int
    sensitivity_by_3: float
    sensitivity: float
    false_alarm_rate: float
    median_lead: float  # NaN when no deteriorator was alarmed
    share_lead_1_plus: float  # NaN when no deteriorator was alarmed


FIGURES: tuple[str, ...] = (
    "sensitivity_by_3",
    "sensitivity",
    "false_alarm_rate",
    "median_lead",
    "share_lead_1_plus",
)


def _per_client_first(cohort: Cohort, mask: BoolArray) -> NDArray[np.float64]:
    """The first session at which ``mask`` holds, per client (inf where it never does)."""
    first = np.full(cohort.n_clients, np.inf)
    np.minimum.at(first, cohort.group[mask], cohort.session[mask].astype(np.float64))
    return first


def alarm_figures(cohort: Cohort, fired: BoolArray, reliable_change: float) -> AlarmFigures:
    """The figures above for one cohort, given which rows (sessions) an alarm fired at."""
    fired = np.asarray(fired, dtype=np.bool_)
    if fired.shape != cohort.group.shape:
        raise ValueError(f"fired has shape {fired.shape}, the cohort has {cohort.n_rows} rows")
    det = cohort.deteriorating
    other = ~det
    first_alarm = _per_client_first(cohort, fired)
    worse = (cohort.score - cohort.intake) >= reliable_change
    event = _per_client_first(cohort, worse)
    event = np.where(np.isinf(event), cohort.n_sessions.astype(np.float64), event)
    alarmed = np.isfinite(first_alarm)
    n_det, n_other = int(det.sum()), int(other.sum())

    def share(mask: BoolArray, among: BoolArray, n: int) -> float:
        return float((mask & among).sum() / n) if n else math.nan

    alarmed_det = alarmed & det
    lead = (event - first_alarm)[alarmed_det]
    return AlarmFigures(
        n_deteriorating=n_det,
        n_other=n_other,
        sensitivity_by_3=share(first_alarm <= 3, det, n_det),
        sensitivity=share(alarmed, det, n_det),
        false_alarm_rate=share(alarmed, other, n_other),
        median_lead=float(np.median(lead)) if lead.size else math.nan,
        share_lead_1_plus=float((lead >= 1).mean()) if lead.size else math.nan,
    )


def band_alarm(fit: GrowthFit, upper: float) -> Alarm:
    """Fires at a session whose score is above the ``upper`` percentile of the expected band."""

    def fired(cohort: Cohort) -> BoolArray:
        p = cohort.params
        _, _, high = expected_bands(
            fit,
            cohort.intake,
            cohort.session,
            lower=min(0.05, upper / 2),
            upper=upper,
            min_total=p.min_total,
            max_total=p.max_total,
        )
        return np.asarray(cohort.score > high, dtype=np.bool_)

    return fired


def rule_alarm(
    cutoff: float, reliable_change: float, *, from_session: int = 4, deterioration: bool = False
) -> Alarm:
    """The rule-based not-on-track condition of ``alliance.alerts.rules.change_signals``, for a
    higher-is-worse measure; with ``deterioration=True`` also its reliable-deterioration signal,
    so that it fires where ``change_signals`` returns any signal."""

    def fired(cohort: Cohort) -> BoolArray:
        score, intake = cohort.score, cohort.intake
        improved = intake - score
        not_on_track = (cohort.session >= from_session) & (score >= cutoff)
        not_on_track &= improved < reliable_change
        if deterioration:
            not_on_track |= (score - intake) >= reliable_change
        return np.asarray(not_on_track, dtype=np.bool_)

    return fired


def always(cohort: Cohort) -> BoolArray:
    return np.ones(cohort.n_rows, dtype=np.bool_)


def never(cohort: Cohort) -> BoolArray:
    return np.zeros(cohort.n_rows, dtype=np.bool_)


@dataclass(frozen=True)
class StudyResult:
    instrument: str
    n_train: int
    n_test: int
    n_cohorts: int
    deteriorating_fraction: float
    seed: int
    fit: GrowthFit
    figures: dict[str, list[AlarmFigures]]  # rule name -> one per test cohort

    def summary(self) -> dict[str, dict[str, tuple[float, float, float]]]:
        """rule -> figure -> (mean, min, max) over the test cohorts (NaN cohorts left out)."""
        out: dict[str, dict[str, tuple[float, float, float]]] = {}
        for rule, per_cohort in self.figures.items():
            out[rule] = {}
            for name in FIGURES:
                values = np.array([getattr(f, name) for f in per_cohort], dtype=np.float64)
                values = values[np.isfinite(values)]
                if values.size:
                    spread = (float(values.mean()), float(values.min()), float(values.max()))
                else:
                    spread = (math.nan, math.nan, math.nan)
                out[rule][name] = spread
        return out


RULE_LABELS: dict[str, str] = {
    "band_p80": "band, 80th percentile",
    "band_p90": "band, 90th percentile (default)",
    "band_p95": "band, 95th percentile",
    "not_on_track": "rule-based not on track (session >= 4)",
    "rules_py": "not on track + reliable deterioration (rules.py)",
}


def run_study(
    *,
    instrument: str = "phq9",
    n_train: int = 2000,
    n_test: int = 2000,
    n_cohorts: int = 20,
    deteriorating_fraction: float = 0.08,
    seed: int = 2001,
) -> StudyResult:
    """Fit on one simulated cohort; score ``n_cohorts`` held-out cohorts with every rule."""
    definition = load_instrument(instrument)
    if definition.clinical_cutoff is None or definition.reliable_change is None:
        raise ValueError(f"{instrument} has no caseness cut-off or reliable-change threshold")
    cutoff = float(definition.clinical_cutoff.value)
    rc = float(definition.reliable_change.value)
    train = simulate_cohort(
        n_train, seed, instrument=instrument, deteriorating_fraction=deteriorating_fraction
    )
    fit = fit_growth_model(train.group, train.session, train.score, train.intake)
    rules: dict[str, Alarm] = {
        "band_p80": band_alarm(fit, 0.80),
        "band_p90": band_alarm(fit, 0.90),
        "band_p95": band_alarm(fit, 0.95),
        "not_on_track": rule_alarm(cutoff, rc),
        "rules_py": rule_alarm(cutoff, rc, deterioration=True),
    }
    figures: dict[str, list[AlarmFigures]] = {name: [] for name in rules}
    for k in range(n_cohorts):
        # Seeds above the training seed: new clients, none of them in the fit.
        test = simulate_cohort(
            n_test,
            seed + 1 + k,
            instrument=instrument,
            deteriorating_fraction=deteriorating_fraction,
        )
        for name, rule in rules.items():
            figures[name].append(alarm_figures(test, rule(test), rc))
    return StudyResult(
        instrument=instrument,
        n_train=n_train,
        n_test=n_test,
        n_cohorts=n_cohorts,
        deteriorating_fraction=deteriorating_fraction,
        seed=seed,
        fit=fit,
        figures=figures,
    )


def _cell(spread: tuple[float, float, float], percent: bool) -> str:
    mean, low, high = spread
    if math.isnan(mean):
        return "n/a"
    if percent:
        return f"{100 * mean:.1f}% ({100 * low:.1f}-{100 * high:.1f})"
    return f"{mean:.2f} ({low:.1f} to {high:.1f})"


def report(result: StudyResult) -> list[str]:
    """The study as Markdown lines: its set-up, the fit and the figures table."""
    fit = result.fit
    f = fit.fixed
    first = next(iter(result.figures.values()))
    n_det = sum(x.n_deteriorating for x in first)
    n_other = sum(x.n_other for x in first)
    lines = [
        f"Instrument {result.instrument}; training cohort {result.n_train} episodes "
        f"(seed {result.seed}); {result.n_cohorts} held-out test cohorts of {result.n_test} "
        f"episodes (seeds {result.seed + 1}-{result.seed + result.n_cohorts}); "
        f"{100 * result.deteriorating_fraction:.0f}% ground-truth deteriorators "
        f"({n_det} deteriorators and {n_other} other clients in all test cohorts).",
        "",
        f"Fit: intercept {f['intercept']:.2f}, log-session {f['log_session']:.2f}, "
        f"intake {f['intake']:.3f}, intake x log-session {f['intake_x_log_session']:.3f} "
        f"(centre {fit.centre:.2f}); G = ({fit.random_cov[0]:.2f}, {fit.random_cov[1]:.2f}, "
        f"{fit.random_cov[2]:.2f}); sigma^2 {fit.residual_var:.2f}; "
        f"{fit.n_obs} observations, {fit.n_groups} episodes.",
        "",
        "| rule | sensitivity by session 3 | sensitivity by end | false-alarm rate "
        "| median lead (sessions) | alarmed deteriorators with lead >= 1 |",
        "|---|---|---|---|---|---|",
    ]
    for rule, figures in result.summary().items():
        cells = [
            _cell(figures["sensitivity_by_3"], True),
            _cell(figures["sensitivity"], True),
            _cell(figures["false_alarm_rate"], True),
            _cell(figures["median_lead"], False),
            _cell(figures["share_lead_1_plus"], True),
        ]
        lines.append(f"| {RULE_LABELS.get(rule, rule)} | " + " | ".join(cells) + " |")
    lines += ["", "Each cell: mean over test cohorts (minimum-maximum)."]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The alarm-quality study of expected bands.")
    parser.add_argument("--instrument", choices=["phq9", "gad7"], default="phq9")
    parser.add_argument("--train", type=int, default=2000, help="episodes in the training cohort")
    parser.add_argument("--test", type=int, default=2000, help="episodes per test cohort")
    parser.add_argument("--cohorts", type=int, default=20, help="held-out test cohorts")
    parser.add_argument("--deteriorating", type=float, default=0.08)
    parser.add_argument("--seed", type=int, default=2001)
    args = parser.parse_args(argv)
    result = run_study(
        instrument=args.instrument,
        n_train=args.train,
        n_test=args.test,
        n_cohorts=args.cohorts,
        deteriorating_fraction=args.deteriorating,
        seed=args.seed,
    )
    for line in report(result):
        print(line)  # pattern-ok: the `python -m` entry point prints its figures to a terminal
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
