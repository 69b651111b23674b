"""The simulation and the alarm-quality study: they run, and their figures are consistent.

No figure is pinned here (docs/validity.md has them, from ``python -m
alliance.trajectories.validity``); the tests check what must hold whatever the numbers: an alarm
that always fires has sensitivity 1, one that never fires a false-alarm rate of 0, the fitted
band beats chance, wider bands alarm less, and the vectorised rule-based alarm is exactly what
``alliance.alerts.rules.change_signals`` fires.
"""

import math
import time

import numpy as np
import pytest

from alliance.alerts.rules import Thresholds, change_signals
from alliance.measurement import load_instrument
from alliance.trajectories.lmm import fit_growth_model
from alliance.trajectories.simulate import PARAMS, simulate_cohort, simulate_rows
from alliance.trajectories.validity import (
    alarm_figures,
    always,
    band_alarm,
    never,
    report,
    rule_alarm,
    run_study,
)


@pytest.fixture(scope="module")
def cohorts():
    train = simulate_cohort(600, 81, deteriorating_fraction=0.08)
    test = simulate_cohort(600, 82, deteriorating_fraction=0.08)
    fit = fit_growth_model(train.group, train.session, train.score, train.intake)
    return fit, test


def test_simulation_is_deterministic_and_in_range():
    a = simulate_cohort(500, 3, deteriorating_fraction=0.08)
    b = simulate_cohort(500, 3, deteriorating_fraction=0.08)
    assert np.array_equal(a.score, b.score)
    assert np.array_equal(a.deteriorating, b.deteriorating)
    assert a.deteriorating.sum() == 40
    assert a.score.min() >= 0
    assert a.score.max() <= 27
    assert np.all(a.score == np.rint(a.score))
    assert a.session.min() == 2
    assert a.n_sessions.min() >= 2
    assert a.n_sessions.max() <= 20
    assert np.array_equal(np.bincount(a.group), a.n_sessions - 1)
    assert a.client_intake.min() >= 5
    assert a.client_intake.max() <= 27
    gad = simulate_cohort(200, 3, instrument="gad7")
    assert gad.score.max() <= 21


def test_simulation_of_a_million_rows_is_quick():
    start = time.perf_counter()
    cohort = simulate_rows(1_100_000, 9)
    assert cohort.n_rows == 1_100_000
    assert np.array_equal(np.bincount(cohort.group), cohort.n_sessions - 1)
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_simulated_scores_keep_to_the_instrument_files_range(instrument):
    definition = load_instrument(instrument)
    params = PARAMS[instrument]
    assert (params.min_total, params.max_total) == (definition.min_total, definition.max_total)


def test_always_and_never(cohorts):
    _, test = cohorts
    on = alarm_figures(test, always(test), 6)
    assert on.sensitivity == 1.0
    assert on.sensitivity_by_3 == 1.0  # every episode has a session 2
    assert on.false_alarm_rate == 1.0
    off = alarm_figures(test, never(test), 6)
    assert off.sensitivity == 0.0
    assert off.false_alarm_rate == 0.0
    assert math.isnan(off.median_lead)
    assert on.n_deteriorating == off.n_deteriorating == 48


def test_band_alarm_beats_chance_and_widening_alarms_less(cohorts):
    fit, test = cohorts
    by_upper = {u: alarm_figures(test, band_alarm(fit, u)(test), 6) for u in (0.8, 0.9, 0.95)}
    for figures in by_upper.values():
        # An alarm blind to the truth alarms deteriorators and others alike in expectation.
        assert figures.sensitivity > figures.false_alarm_rate + 0.2
        assert figures.sensitivity_by_3 <= figures.sensitivity
    rates = [by_upper[u].false_alarm_rate for u in (0.8, 0.9, 0.95)]
    sens = [by_upper[u].sensitivity for u in (0.8, 0.9, 0.95)]
    assert rates == sorted(rates, reverse=True)
    assert sens == sorted(sens, reverse=True)


def test_rule_alarm_is_what_change_signals_fires():
    phq9 = load_instrument("phq9")
    cohort = simulate_cohort(150, 91, deteriorating_fraction=0.2)
    fired = rule_alarm(10, 6, deterioration=True)(cohort)
    not_on_track = rule_alarm(10, 6)(cohort)
    row = 0
    for client in range(cohort.n_clients):
        totals = [int(cohort.client_intake[client])]
        for _ in range(cohort.n_sessions[client] - 1):
            totals.append(int(cohort.score[row]))
            signals = change_signals(phq9, totals, Thresholds())
            assert fired[row] == bool(signals), (client, totals, signals)
            if signals and signals[0].kind == "not_on_track":
                assert not_on_track[row]
            row += 1
    assert row == cohort.n_rows


def test_study_runs_and_its_summary_is_consistent():
    result = run_study(n_train=400, n_test=300, n_cohorts=3, seed=7)
    assert result.fit.converged
    summary = result.summary()
    assert set(summary) == {"band_p80", "band_p90", "band_p95", "not_on_track", "rules_py"}
    for figures in summary.values():
        for mean, low, high in figures.values():
            if not math.isnan(mean):
                assert low - 1e-12 <= mean <= high + 1e-12
    for per_cohort in result.figures.values():
        assert len(per_cohort) == 3
    # The rule-based alarm cannot fire before measured session 4.
    assert summary["not_on_track"]["sensitivity_by_3"] == (0.0, 0.0, 0.0)
    lines = report(result)
    assert any(line.startswith("| band, 90th percentile") for line in lines)
