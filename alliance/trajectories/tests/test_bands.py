"""Expected bands (the predictive distribution of a new client's score) and the off-track rule.

The band is the normal with mean = the fixed part and variance z'Gz + sigma^2, z = [1, log s]
(Laird & Ware 1982); Finch, Lambert & Schaalje (2001) put such percentile bands round expected
recovery curves. The worked numbers below are computed by hand from a fit written out in full.
"""

import math

import numpy as np
import pytest
from scipy.stats import norm

from alliance.trajectories.bands import Band, band_table, expected_band, off_track
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


def test_band_by_hand():
    # intake 20 (c = 4), session 4: log 4 = 1.386294...
    log_s = math.log(4)
    mean = 15.0 - 3.0 * log_s + 0.8 * 4 - 0.1 * 4 * log_s
    variance = 9.0 + 2 * -0.9 * log_s + 2.25 * log_s**2 + 4.84
    z90 = 1.2815515655446004
    band = expected_band(FIT, 20, 4)
    assert band.expected == pytest.approx(mean, rel=1e-12)
    assert band.upper == pytest.approx(mean + z90 * math.sqrt(variance), rel=1e-12)
    assert band.lower == pytest.approx(mean - z90 * math.sqrt(variance), rel=1e-12)
    wide = expected_band(FIT, 20, 4, lower=0.05, upper=0.95)
    assert wide.lower < band.lower < band.expected < band.upper < wide.upper


def test_band_is_clipped_to_the_instrument_range():
    high = expected_band(FIT, 27, 2, min_total=0, max_total=27)
    assert high.upper <= 27
    low = expected_band(FIT, 5, 20, min_total=0, max_total=27)
    assert low.lower >= 0
    unclipped = expected_band(FIT, 5, 20)
    assert unclipped.lower < 0


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
    band = expected_band(FIT, 20, 4, min_total=0, max_total=27)
    assert rows[5] == {
        "intake": 20,
        "session": 4,
        "lower": round(band.lower, 2),
        "expected": round(band.expected, 2),
        "upper": round(band.upper, 2),
    }
    for row in rows:
        for key in ("lower", "expected", "upper"):
            assert row[key] == round(row[key], 2)


def test_off_track():
    band = Band(lower=5.0, expected=9.0, upper=13.0)
    assert off_track(band, 14)
    assert not off_track(band, 13)  # on the edge is on track
    assert not off_track(band, 2)
    assert off_track(band, 4, higher_is_worse=False)
    assert not off_track(band, 14, higher_is_worse=False)
    with pytest.raises(ValueError, match="NaN"):
        off_track(band, float("nan"))


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="lower < upper"):
        expected_band(FIT, 15, 3, lower=0.9, upper=0.1)
    with pytest.raises(ValueError, match="session must be 2 or more"):
        expected_band(FIT, 15, 1)


def test_band_covers_new_clients_as_stated():
    """Fit on one cohort, then on new clients from the same (unrounded) model about 10% of
    scores lie above the 90th-percentile band at every session: the predictive variance is right.
    """
    train = simulate_cohort(3000, 71, exact=True)
    fit = fit_growth_model(train.group, train.session, train.score, train.intake)
    test = simulate_cohort(3000, 72, exact=True)
    above = np.array(
        [
            off_track(expected_band(fit, float(x), int(s)), float(y))
            for x, s, y in zip(
                test.intake[:4000], test.session[:4000], test.score[:4000], strict=True
            )
        ]
    )
    share = above.mean()
    # Binomial SD at n=4000 is 0.5%, inflated by clustering within clients: allow 2.5 points.
    assert share == pytest.approx(0.10, abs=0.025)
    assert norm.ppf(0.9) == pytest.approx(1.2815515655446004)
