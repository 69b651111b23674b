"""Expected bands: the predictive distribution of a new client's score, and the stored table.

The band is the normal with mean = the fixed part and variance z'Gz + sigma^2, z = [1, log s]
(Laird & Ware 1982); Finch, Lambert & Schaalje (2001) put such percentile bands round expected
recovery curves. The worked numbers below are computed by hand from a fit written out in full.
"""

import math

import numpy as np
import pytest
from scipy.stats import norm

from alliance.trajectories.bands import band_table, expected_bands
from alliance.trajectories.lmm import GrowthFit, fit_growth_model
from alliance.trajectories.simulate import simulate_cohort

FIT = GrowthFit(
    fixed={"intercept": 15.0, "log_session": -3.0, "intake": 0.8, "intake_x_log_session": -0.1},
    fixed_se={"intercept": 0.1, "log_session": 0.1, "intake": 0.01, "intake_x_log_session": 0.01},
    random_cov=(9.0, -0.9, 2.25),
    residual_var=4.84,
    centre=16.0,
    reml_loglik=-1000.0,
    n_obs=1000,
    n_groups=150,
    iterations=10,
    converged=True,
)


def _band(intake: float, session: int, *args: float, **kwargs: float) -> tuple[float, ...]:
    """(lower, expected, upper) of one intake and session, as plain numbers."""
    return tuple(float(a) for a in expected_bands(FIT, intake, session, *args, **kwargs))


def test_band_by_hand():
    # intake 20 (c = 4), session 4: log 4 = 1.386294...
    log_s = math.log(4)
    mean = 15.0 - 3.0 * log_s + 0.8 * 4 - 0.1 * 4 * log_s
    variance = 9.0 + 2 * -0.9 * log_s + 2.25 * log_s**2 + 4.84
    z90 = 1.2815515655446004
    lower, expected, upper = _band(20, 4)
    assert expected == pytest.approx(mean, rel=1e-12)
    assert upper == pytest.approx(mean + z90 * math.sqrt(variance), rel=1e-12)
    assert lower == pytest.approx(mean - z90 * math.sqrt(variance), rel=1e-12)
    wide_lower, _, wide_upper = _band(20, 4, lower=0.05, upper=0.95)
    assert wide_lower < lower < expected < upper < wide_upper


def test_band_is_clipped_to_the_instrument_range():
    assert _band(27, 2, 0.01, 0.99)[2] > 27  # 29.6 beyond PHQ-9's top
    assert _band(27, 2, 0.01, 0.99, min_total=0, max_total=27)[2] == 27
    assert _band(5, 20)[0] < 0
    assert _band(5, 20, min_total=0, max_total=27)[0] == 0
    assert _band(5, 20, min_total=0, max_total=27)[1:] == _band(5, 20)[1:]  # inside: unchanged


def test_band_table_rows():
    rows = band_table(FIT, [10, 20], [2, 3, 4], min_total=0, max_total=27)
    assert [(r["intake"], r["session"]) for r in rows] == [
        (10, 2),
        (10, 3),
        (10, 4),
        (20, 2),
        (20, 3),
        (20, 4),
    ]
    lower, expected, upper = _band(20, 4, min_total=0, max_total=27)
    assert rows[5] == {
        "intake": 20,
        "session": 4,
        "lower": round(lower, 2),
        "expected": round(expected, 2),
        "upper": round(upper, 2),
    }
    for row in rows:
        for key in ("lower", "expected", "upper"):
            assert row[key] == round(row[key], 2)


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="lower < upper"):
        expected_bands(FIT, 15, 3, lower=0.9, upper=0.1)
    with pytest.raises(ValueError, match="session must be 2 or more"):
        expected_bands(FIT, 15, [3, 1])


def test_band_covers_new_clients_as_stated():
    """Fit on one cohort, then on new clients from the same (unrounded) model about 10% of
    scores lie above the 90th-percentile band at every session: the predictive variance is right.
    """
    train = simulate_cohort(3000, 71, exact=True)
    fit = fit_growth_model(train.group, train.session, train.score, train.intake)
    test = simulate_cohort(3000, 72, exact=True)
    _, _, upper = expected_bands(fit, test.intake[:4000], test.session[:4000])
    share = float(np.mean(test.score[:4000] > upper))
    # Binomial SD at n=4000 is 0.5%, inflated by clustering within clients: allow 2.5 points.
    assert share == pytest.approx(0.10, abs=0.025)
    assert norm.ppf(0.9) == pytest.approx(1.2815515655446004)
