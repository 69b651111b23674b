"""Expected bands of a new client's score from a fitted growth model, and their stored table.

For a client who was not in the fit, with intake x, the model of ``lmm`` predicts the score at
measured session s >= 2 as normal with

    mean     = b0 + b1 log s + b2 c + b3 c log s,   c = x - centre
    variance = z' G z + sigma^2,                     z = [1, log s]

(their random intercept and slope are unknown, so G enters whole: the predictive distribution of
a new group's response in a linear mixed model; Laird & Ware 1982). The band runs between the
``lower`` and ``upper`` quantiles of that normal, by default the 10th and 90th percentiles.
Finch, Lambert & Schaalje (2001) drew such percentile bands round the expected recovery curve of
clients of similar intake severity and treated a score beyond the band as a signal that the
client is not on track (the rule itself is in alliance.alerts.rules, reading the stored table).
The normal takes no account of the uncertainty in the estimated parameters, which is negligible
for the several hundred episodes a clinic needs to fit.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from .lmm import GrowthFit

FloatArray = NDArray[np.float64]


def _check_quantiles(lower: float, upper: float) -> None:
    if not 0.0 < lower < upper < 1.0:
        raise ValueError(f"need 0 < lower < upper < 1, got lower={lower} upper={upper}")


def expected_bands(
    fit: GrowthFit,
    intake: ArrayLike,
    session: ArrayLike,
    lower: float = 0.10,
    upper: float = 0.90,
    *,
    min_total: float | None = None,
    max_total: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The band of a new client with this intake at measured session ``session`` (>= 2):
    (lower, expected, upper) arrays, broadcast over the inputs, clipped to the instrument's
    range when ``min_total``/``max_total`` are given."""
    _check_quantiles(lower, upper)
    s = np.asarray(session, dtype=np.float64)
    if s.size and float(np.min(s)) < 2:
        raise ValueError("session must be 2 or more: session 1 is the intake")
    x = np.asarray(intake, dtype=np.float64)
    log_s = np.log(s)
    mean = fit.predict_mean(x, s)
    g00, g01, g11 = fit.random_cov
    variance = g00 + 2.0 * g01 * log_s + g11 * log_s * log_s + fit.residual_var
    sd = np.sqrt(np.maximum(variance, 0.0))
    low = mean + float(norm.ppf(lower)) * sd
    high = mean + float(norm.ppf(upper)) * sd
    mean, low, high = np.broadcast_arrays(mean, low, high)
    if min_total is not None or max_total is not None:
        low, mean, high = (np.clip(a, min_total, max_total) for a in (low, mean, high))
    return (
        np.asarray(low, dtype=np.float64),
        np.asarray(mean, dtype=np.float64),
        np.asarray(high, dtype=np.float64),
    )


def band_table(
    fit: GrowthFit,
    intakes: Iterable[int],
    sessions: Iterable[int],
    lower: float = 0.10,
    upper: float = 0.90,
    *,
    min_total: float | None = None,
    max_total: float | None = None,
) -> list[dict[str, float]]:
    """Rows ``{intake, session, lower, expected, upper}`` (2 dp), intake by intake, for storing."""
    session_list = [int(s) for s in sessions]
    rows: list[dict[str, float]] = []
    for intake in intakes:
        low, mean, high = expected_bands(
            fit,
            np.full(len(session_list), float(intake)),
            np.asarray(session_list, dtype=np.float64),
            lower,
            upper,
            min_total=min_total,
            max_total=max_total,
        )
        for k, session in enumerate(session_list):
            rows.append(
                {
                    "intake": intake,
                    "session": session,
                    "lower": round(float(low[k]), 2),
                    "expected": round(float(mean[k]), 2),
                    "upper": round(float(high[k]), 2),
                }
            )
    return rows
