"""The REML growth-model fit against statsmodels, against lme4, and against known parameters.

References: statsmodels' MixedLM (REML; settings in ``lmm.fit_with_statsmodels``) fitted to the
same simulated data in the test, and lme4's ``lmer(score ~ log_s * c + (1 + log_s | group),
REML = TRUE)`` (Bates et al. 2015, J Stat Softw 67(1)) stored in fixtures/lme4_reference.json by
scripts/lme4_reference.R from fixtures/lme4_reference_data.csv.

Agreement is relative: |ours - theirs| <= 1e-4 * max(|theirs|, floor). The floor keeps a value
near zero (a covariance or a coefficient close to 0) from demanding absolute agreement far below
what any optimiser delivers: 0.01 points for a fixed effect, and for the random-effects
covariance 1% of sqrt(var(intercept) * var(slope)), the largest size that covariance can have.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from alliance.trajectories.lmm import (
    FIXED_NAMES,
    GrowthFit,
    _evaluate,
    _sufficient_stats,
    fit_growth_model,
    fit_with_statsmodels,
)
from alliance.trajectories.simulate import PARAMS, simulate_cohort

FIXTURES = Path(__file__).parent / "fixtures"
RTOL = 1e-4


def assert_close(ours: float, theirs: float, floor: float, what: str, rtol: float = RTOL) -> None:
    bound = rtol * max(abs(theirs), floor)
    assert abs(ours - theirs) <= bound, f"{what}: ours {ours!r}, reference {theirs!r}"


def assert_same_estimates(ours: GrowthFit, ref: GrowthFit, rtol: float = RTOL) -> None:
    for name in FIXED_NAMES:
        assert_close(ours.fixed[name], ref.fixed[name], 0.01, name, rtol)
    cov_floor = 0.01 * math.sqrt(abs(ref.random_cov[0] * ref.random_cov[2]))
    for k, label in enumerate(("var(intercept)", "cov(intercept, slope)", "var(slope)")):
        assert_close(ours.random_cov[k], ref.random_cov[k], cov_floor, label, rtol)
    assert_close(ours.residual_var, ref.residual_var, 0.01, "residual variance", rtol)


def fit_cohort(cohort, fitter=fit_growth_model):
    return fitter(cohort.group, cohort.session, cohort.score, cohort.intake)


@pytest.mark.parametrize(
    ("instrument", "n_clients", "seed", "fraction", "exact"),
    [
        ("phq9", 400, 11, 0.08, False),  # rounded, clipped PHQ-9 totals with deteriorators
        ("gad7", 300, 12, 0.0, False),  # GAD-7 totals
        ("phq9", 300, 13, 0.0, True),  # the model exactly, unrounded
    ],
)
def test_agrees_with_statsmodels(instrument, n_clients, seed, fraction, exact):
    cohort = simulate_cohort(
        n_clients, seed, instrument=instrument, deteriorating_fraction=fraction, exact=exact
    )
    ours = fit_cohort(cohort)
    theirs = fit_cohort(cohort, fit_with_statsmodels)
    assert ours.converged
    assert theirs.converged
    assert_same_estimates(ours, theirs)
    # Ours is at least as good an optimum of the same REML criterion.
    assert ours.reml_loglik >= theirs.reml_loglik - 1e-6
    assert ours.reml_loglik == pytest.approx(theirs.reml_loglik, abs=1e-3)
    # Standard errors: ours are lme4's, sqrt(sigma^2 diag((X'V^-1 X)^-1)) (they agree with the
    # lme4 fixture to 1e-7). statsmodels inverts the observed Hessian of fixed and covariance
    # parameters together, whose cross terms are zero only in expectation; on these few hundred
    # clients its SEs are about 0.1-0.3% larger, so only rough agreement is asked of them.
    for name in FIXED_NAMES:
        assert ours.fixed_se[name] == pytest.approx(theirs.fixed_se[name], rel=1e-2)


def _fixture_data():
    table = np.loadtxt(FIXTURES / "lme4_reference_data.csv", delimiter=",", skiprows=1)
    return table[:, 0].astype(np.int64), table[:, 1], table[:, 2], table[:, 3]


def test_agrees_with_lme4_fixture():
    ref_json = json.loads((FIXTURES / "lme4_reference.json").read_text())
    group, session, score, intake = _fixture_data()
    ours = fit_growth_model(group, session, score, intake)
    ref = GrowthFit(
        fixed=ref_json["fixed"],
        fixed_se=ref_json["fixed_se"],
        random_cov=tuple(ref_json["random_cov"]),
        residual_var=ref_json["residual_var"],
        centre=ref_json["centre"],
        reml_loglik=ref_json["reml_loglik"],
        n_obs=ref_json["n_obs"],
        n_groups=ref_json["n_groups"],
        iterations=0,
        converged=True,
    )
    assert (ours.n_obs, ours.n_groups) == (ref.n_obs, ref.n_groups)
    assert ours.centre == pytest.approx(ref.centre, rel=1e-12)
    assert_same_estimates(ours, ref)
    for name in FIXED_NAMES:
        assert_close(ours.fixed_se[name], ref.fixed_se[name], 0.0, f"SE {name}")
    assert ours.reml_loglik >= ref.reml_loglik - 1e-6
    # lme4's REML log-likelihood is -REMLcrit / 2: the same constant as ours.
    assert ours.reml_loglik == pytest.approx(-ref_json["reml_criterion"] / 2, abs=1e-6)


def test_lme4_fixture_data_is_reproducible_from_simulate():
    """The CSV that R fitted is exactly what simulate.py writes for its recorded seed."""
    cohort = simulate_cohort(500, 2001, instrument="phq9", deteriorating_fraction=0.08)
    group, session, score, intake = _fixture_data()
    assert np.array_equal(group, cohort.group)
    assert np.array_equal(session, cohort.session)
    assert np.array_equal(score, cohort.score)
    assert np.array_equal(intake, cohort.intake)


def test_recovers_known_parameters_on_a_large_sample():
    """Unrounded data from the model itself: estimates land within sampling error of the truth.

    Tolerances: 4 standard errors for fixed effects; for the variance components, which have no
    SE here, 5% for the variances, 0.25 for the covariance and 2% for the residual variance,
    several times the sampling SD at 20,000 clients (var(intercept) 9: SD about 0.1).
    """
    params = PARAMS["phq9"]
    cohort = simulate_cohort(20_000, 20010, instrument="phq9", exact=True)
    fit = fit_cohort(cohort)
    assert fit.converged
    truth = params.fixed_at(fit.centre)
    for name in FIXED_NAMES:
        assert abs(fit.fixed[name] - truth[name]) <= 4 * fit.fixed_se[name], name
    g00, g01, g11 = params.random_cov
    assert fit.random_cov[0] == pytest.approx(g00, rel=0.05)
    assert fit.random_cov[1] == pytest.approx(g01, abs=0.25)
    assert fit.random_cov[2] == pytest.approx(g11, rel=0.05)
    assert fit.residual_var == pytest.approx(params.residual_var, rel=0.02)


def test_invariant_to_row_order_and_group_labels():
    cohort = simulate_cohort(300, 31, deteriorating_fraction=0.08)
    base = fit_cohort(cohort)
    order = np.random.default_rng(5).permutation(cohort.n_rows)
    # Sparse, large, negative labels take the sorting path instead of the dense one.
    labels = cohort.group * 1_000_003 - 7_000_000_000
    shuffled = fit_growth_model(
        labels[order], cohort.session[order], cohort.score[order], cohort.intake[order]
    )
    # Both fits stop at the optimiser's tolerance, and the summation order (and OpenBLAS's
    # threading) moves the last digits: 1e-6 relative, 100 times tighter than the agreement asked
    # of the reference fits, while a row mixed up with another client's would move them by far more.
    assert_same_estimates(shuffled, base, rtol=1e-6)
    assert shuffled.reml_loglik == pytest.approx(base.reml_loglik, abs=1e-6)


def test_gradient_matches_finite_differences():
    cohort = simulate_cohort(200, 41, deteriorating_fraction=0.08)
    stats = _sufficient_stats(cohort.group, cohort.session, cohort.score, cohort.intake)
    theta = np.array([0.9, -0.2, 0.5])
    analytic = _evaluate(stats, theta).grad
    for j in range(3):
        h = 1e-6
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (_evaluate(stats, up).value - _evaluate(stats, down).value) / (2 * h)
        assert analytic[j] == pytest.approx(numeric, rel=1e-5)


def test_json_round_trip():
    cohort = simulate_cohort(100, 51)
    fit = fit_cohort(cohort)
    data = json.loads(json.dumps(fit.to_json()))
    assert GrowthFit.from_json(data) == fit
    with pytest.raises(ValueError, match="not a serialised GrowthFit"):
        GrowthFit.from_json({"fixed": {}})


def _small():
    cohort = simulate_cohort(20, 61)
    return (
        cohort.group.copy(),
        cohort.session.astype(np.float64),
        cohort.score.copy(),
        cohort.intake.copy(),
    )


def test_refuses_session_one():
    group, session, score, intake = _small()
    session[0] = 1
    with pytest.raises(ValueError, match="session must be 2 or more"):
        fit_growth_model(group, session, score, intake)


@pytest.mark.parametrize("column", [1, 2, 3])
def test_refuses_nan(column):
    data = list(_small())
    data[column][3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_growth_model(*data)


def test_refuses_mismatched_lengths():
    group, session, score, intake = _small()
    with pytest.raises(ValueError, match="score has"):
        fit_growth_model(group, session, score[:-1], intake)


def test_refuses_fewer_than_two_groups():
    group, session, score, intake = _small()
    keep = group == group[0]
    with pytest.raises(ValueError, match="at least 2 groups"):
        fit_growth_model(group[keep], session[keep], score[keep], intake[keep])


def test_refuses_intake_varying_within_a_group():
    group, session, score, intake = _small()
    intake[1] = intake[0] + 1  # rows 0 and 1 are the same client's
    assert group[0] == group[1]
    with pytest.raises(ValueError, match="intake must be constant within each group"):
        fit_growth_model(group, session, score, intake)


def test_refuses_singular_design():
    group, session, score, intake = _small()
    with pytest.raises(ValueError, match="singular"):
        fit_growth_model(group, session, score, np.full_like(intake, 15.0))
    with pytest.raises(ValueError, match="singular"):
        fit_growth_model(group, np.full_like(session, 3.0), score, intake)


def test_refuses_non_integer_group_ids():
    group, session, score, intake = _small()
    with pytest.raises(ValueError, match="integer ids"):
        fit_growth_model(group.astype(np.float64), session, score, intake)
