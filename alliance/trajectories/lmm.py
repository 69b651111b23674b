"""The expected-recovery growth model, fitted by restricted maximum likelihood (REML).

Source of the model: Finch AE, Lambert MJ, Schaalje BG. Psychotherapy quality control: the
statistical generation of expected recovery curves for integration into an early warning system.
*Clinical Psychology & Psychotherapy* 2001;8(4):231-242. They fitted a multilevel (hierarchical
linear) model of each client's score on the log of the session number, with intake severity as
the client-level predictor, and flagged clients whose score fell outside the band of similar
clients. Alliance fits the same form of model to a clinic's own finished episodes.

The model, for client (group) i and measured session s >= 2 of the episode (session 1 is the
intake: it is the covariate, never a response)::

    y_is = b0 + b1 log(s) + b2 c_i + b3 c_i log(s)   +   u0_i + u1_i log(s)   +   e_is
    c_i  = x_i - centre                    x_i: the client's intake score
    centre = mean of x_i over clients      (stored in the fit)
    (u0_i, u1_i) ~ N(0, G), G unstructured 2x2;   e_is ~ N(0, sigma^2), independent

Estimation is by REML (Patterson HD, Thompson R. Biometrika 1971;58(3):545-554; for longitudinal
data Laird NM, Ware JH. Random-effects models for longitudinal data. *Biometrics*
1982;38(4):963-974). We minimise the profiled REML criterion in the parameterisation of Bates D,
Mächler M, Bolker B, Walker S. Fitting linear mixed-effects models using lme4. *Journal of
Statistical Software* 2015;67(1):1-48: G = sigma^2 L L' with L lower-triangular and
theta = (L00, L10, L11), sigma^2 and the fixed effects profiled out, so only theta is searched::

    -2 l_R(theta) = sum_i log det(I + Z_i'Z_i D) + log det A + (n - p)(1 + log(2 pi r2 / (n - p)))
    D = L L',  A = X' V^-1 X,  r2 = y' V^-1 y - (X' V^-1 y)' A^-1 (X' V^-1 y),  V = I + Z D Z'

with p = 4 fixed effects. This is the REML criterion that lme4 reports and, as -2 times the
log-likelihood, what statsmodels' MixedLM reports with ``reml=True``.

How it is made fast (our own derivation, written for this module). Z_i = [1, log s] and
X_i = [Z_i, c_i Z_i], so per client everything reduces to S_i = Z_i'Z_i (2x2), u_i = Z_i'y_i,
y_i'y_i and c_i, computed once with ``np.bincount``. With N_i = I + S_i D (Woodbury and
Sylvester's determinant identity):

    Z_i' V_i^-1 Z_i = P_i = N_i^-1 S_i,   Z_i' V_i^-1 y_i = g_i = N_i^-1 u_i,
    y_i' V_i^-1 y_i = y_i'y_i - u_i' D g_i,   log det V_i = log det N_i,
    A = sum_i [[P_i, c_i P_i], [c_i P_i, c_i^2 P_i]],   X'V^-1 y = sum_i [g_i, c_i g_i]

so one evaluation is a handful of vectorised 2x2 operations over all clients. The gradient is
analytic: d(-2 l_R) = tr(Gamma dD) with the symmetric 2x2

    Gamma = sum_i [ P_i - P_i H(c_i) P_i - (n - p) / r2 * e_i e_i' ],
    H(c) = the 2x2 block sum of A^-1 weighted by [1, c],   e_i = g_i - P_i (beta_a + c_i beta_b)

and d/dL = 2 Gamma L. L-BFGS-B (with L00, L11 >= 0, as in lme4) finds the optimum; a few Newton
steps on a finite-difference Hessian of that gradient then polish it to near machine precision.
The fixed effects and their standard errors are those of the final generalised least squares:
beta = A^-1 X'V^-1 y, cov(beta) = sigma^2 A^-1 with sigma^2 = r2 / (n - p).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg, optimize

FloatArray = NDArray[np.float64]

FIXED_NAMES: tuple[str, str, str, str] = (
    "intercept",
    "log_session",
    "intake",
    "intake_x_log_session",
)
N_FIXED = len(FIXED_NAMES)


@dataclass(frozen=True)
class GrowthFit:
    """A fitted growth model: every value a plain float or int, so it serialises to JSON."""

    fixed: dict[str, float]  # keys FIXED_NAMES
    fixed_se: dict[str, float]
    random_cov: tuple[float, float, float]  # var(intercept), cov(intercept, slope), var(slope)
    residual_var: float
    centre: float  # mean intake over clients; the model's c is intake - centre
    reml_loglik: float
    n_obs: int
    n_groups: int
    iterations: int
    converged: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "fixed": {name: float(self.fixed[name]) for name in FIXED_NAMES},
            "fixed_se": {name: float(self.fixed_se[name]) for name in FIXED_NAMES},
            "random_cov": [float(v) for v in self.random_cov],
            "residual_var": float(self.residual_var),
            "centre": float(self.centre),
            "reml_loglik": float(self.reml_loglik),
            "n_obs": int(self.n_obs),
            "n_groups": int(self.n_groups),
            "iterations": int(self.iterations),
            "converged": bool(self.converged),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GrowthFit:
        try:
            cov = [float(v) for v in d["random_cov"]]
            if len(cov) != 3:
                raise ValueError("random_cov must hold 3 numbers")
            return cls(
                fixed={name: float(d["fixed"][name]) for name in FIXED_NAMES},
                fixed_se={name: float(d["fixed_se"][name]) for name in FIXED_NAMES},
                random_cov=(cov[0], cov[1], cov[2]),
                residual_var=float(d["residual_var"]),
                centre=float(d["centre"]),
                reml_loglik=float(d["reml_loglik"]),
                n_obs=int(d["n_obs"]),
                n_groups=int(d["n_groups"]),
                iterations=int(d["iterations"]),
                converged=bool(d["converged"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a serialised GrowthFit: {exc!r}") from None

    def predict_mean(self, intake: ArrayLike, session: ArrayLike) -> FloatArray:
        """The fixed part (the expected score of a typical client) at these intakes and sessions."""
        c = np.asarray(intake, dtype=np.float64) - self.centre
        log_s = np.log(np.asarray(session, dtype=np.float64))
        f = self.fixed
        mean: FloatArray = (
            f["intercept"]
            + f["log_session"] * log_s
            + f["intake"] * c
            + f["intake_x_log_session"] * c * log_s
        )
        return mean


@dataclass(frozen=True)
class _Stats:
    """Per-client sufficient statistics (m clients) and totals; y is shifted by ``shift``."""

    n_obs: int
    n_groups: int
    centre: float
    shift: float
    c: FloatArray  # intake - centre
    s00: FloatArray  # Z'Z = [[n_i, sum l], [sum l, sum l^2]]
    s01: FloatArray
    s11: FloatArray
    u0: FloatArray  # Z'y = [sum y, sum l y]
    u1: FloatArray
    yy: float  # sum over all rows of y^2


@dataclass(frozen=True)
class _Evaluation:
    value: float  # the profiled -2 REML log-likelihood without its constant
    grad: FloatArray
    beta: FloatArray
    r2: float
    a_inv: FloatArray


def _dot(a: FloatArray, b: FloatArray) -> float:
    # einsum's own loop rather than BLAS: OpenBLAS threads a long dot product, and on a busy
    # machine waiting for those threads cost far more than the arithmetic.
    return float(np.einsum("i,i->", a, b))


def _as_float(name: str, values: ArrayLike, n: int | None) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]} values but group has {n}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _group_codes(group: ArrayLike) -> tuple[NDArray[np.intp], int]:
    """Codes 0..m-1 for the group ids, in ascending id order."""
    ids = np.asarray(group)
    if ids.ndim != 1:
        raise ValueError(f"group must be one-dimensional, got shape {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"group must hold integer ids, got dtype {ids.dtype}")
    n = ids.shape[0]
    if n == 0:
        raise ValueError("no observations")
    low, high = int(ids.min()), int(ids.max())
    if low >= 0 and high < 4 * n + 1024:
        # Dense small ids: an O(n) relabelling, no sort.
        present = np.bincount(ids, minlength=high + 1) > 0
        relabel = np.cumsum(present) - 1
        return relabel[ids].astype(np.intp, copy=False), int(present.sum())
    uniques, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.intp, copy=False), int(uniques.shape[0])


def _sufficient_stats(
    group: ArrayLike, session: ArrayLike, score: ArrayLike, intake: ArrayLike
) -> _Stats:
    ids = np.asarray(group)
    codes, m = _group_codes(ids)
    n = codes.shape[0]
    sessions = _as_float("session", session, n)
    y = _as_float("score", score, n)
    x = _as_float("intake", intake, n)
    if float(sessions.min()) < 2:
        raise ValueError(
            "session must be 2 or more: session 1 is the intake, the covariate, not a response"
        )
    if m < 2:
        raise ValueError(f"need at least 2 groups (clients), got {m}")
    if n <= N_FIXED:
        raise ValueError(f"need more than {N_FIXED} observations, got {n}")
    group_intake = np.empty(m)
    group_intake[codes] = x
    differs = x != group_intake[codes]
    if differs.any():
        row = int(np.argmax(differs))
        raise ValueError(
            f"intake must be constant within each group: group {ids[row]} has "
            f"{x[row]:g} and {group_intake[codes[row]]:g}"
        )
    centre = float(group_intake.mean())
    shift = float(y.mean())  # conditioning only: the intercept absorbs it
    yc = y - shift
    log_s = np.log(sessions)

    def total(weights: FloatArray | None) -> FloatArray:
        return np.bincount(codes, weights=weights, minlength=m).astype(np.float64, copy=False)

    return _Stats(
        n_obs=n,
        n_groups=m,
        centre=centre,
        shift=shift,
        c=group_intake - centre,
        s00=total(None),
        s01=total(log_s),
        s11=total(log_s * log_s),
        u0=total(yc),
        u1=total(log_s * yc),
        yy=_dot(yc, yc),
    )


def _block_sum(stats: _Stats, p00: FloatArray, p01: FloatArray, p11: FloatArray) -> FloatArray:
    """sum_i [[P_i, c_i P_i], [c_i P_i, c_i^2 P_i]] for per-client symmetric 2x2 P_i."""
    c = stats.c
    out = np.empty((N_FIXED, N_FIXED))
    for (row, col), weight in (((0, 0), None), ((0, 2), c), ((2, 2), c * c)):
        if weight is None:
            b00, b01, b11 = p00.sum(), p01.sum(), p11.sum()
        else:
            b00, b01, b11 = _dot(weight, p00), _dot(weight, p01), _dot(weight, p11)
        block = np.array([[b00, b01], [b01, b11]])
        out[row : row + 2, col : col + 2] = block
        out[col : col + 2, row : row + 2] = block
    return out


def _check_design(stats: _Stats) -> None:
    xtx = _block_sum(stats, stats.s00, stats.s01, stats.s11)
    diag = np.diag(xtx)
    if np.any(diag <= 0):
        raise ValueError(_SINGULAR)
    scale = np.sqrt(diag)
    corr = xtx / np.outer(scale, scale)
    if float(np.linalg.eigvalsh(corr).min()) < 1e-10:
        raise ValueError(_SINGULAR)


_SINGULAR = (
    "the fixed-effects design is singular: the data need at least two different sessions "
    "and two different intake scores"
)


def _evaluate(stats: _Stats, theta: FloatArray, *, want_grad: bool = True) -> _Evaluation:
    t0, t1, t2 = (float(v) for v in theta)
    d00, d01, d11 = t0 * t0, t0 * t1, t1 * t1 + t2 * t2
    s00, s01, s11 = stats.s00, stats.s01, stats.s11
    # N = I + S D and its determinant (>= 1 for positive semi-definite S and D).
    n00 = 1.0 + s00 * d00 + s01 * d01
    n01 = s00 * d01 + s01 * d11
    n10 = s01 * d00 + s11 * d01
    n11 = 1.0 + s01 * d01 + s11 * d11
    det = n00 * n11 - n01 * n10
    inv = 1.0 / det
    # P = N^-1 S (symmetric) and g = N^-1 u.
    p00 = (n11 * s00 - n01 * s01) * inv
    p01 = (n11 * s01 - n01 * s11) * inv
    p11 = (n00 * s11 - n10 * s01) * inv
    u0, u1 = stats.u0, stats.u1
    g0 = (n11 * u0 - n01 * u1) * inv
    g1 = (n00 * u1 - n10 * u0) * inv
    yvy = stats.yy - _dot(u0, d00 * g0 + d01 * g1) - _dot(u1, d01 * g0 + d11 * g1)
    a = _block_sum(stats, p00, p01, p11)
    c = stats.c
    xvy = np.array([g0.sum(), g1.sum(), _dot(c, g0), _dot(c, g1)])
    try:
        factor = linalg.cho_factor(a, lower=True)
    except linalg.LinAlgError:
        raise ValueError(_SINGULAR) from None
    beta = linalg.cho_solve(factor, xvy)
    r2 = yvy - float(xvy @ beta)
    dof = stats.n_obs - N_FIXED
    if not r2 > 0:
        raise ValueError("the model fits the data exactly: no residual variance to estimate")
    logdet_a = 2.0 * float(np.log(np.diag(factor[0])).sum())
    value = float(np.log(det).sum()) + logdet_a + dof * math.log(r2)
    a_inv = linalg.cho_solve(factor, np.eye(N_FIXED))
    grad = np.zeros(3)
    if want_grad:
        # H(c) = H_aa + c (H_ab + H_ba) + c^2 H_bb, per client, symmetric 2x2.
        h_aa, h_ab, h_bb = a_inv[:2, :2], a_inv[:2, 2:], a_inv[2:, 2:]
        cross = h_ab + h_ab.T
        c2 = c * c
        h00 = h_aa[0, 0] + c * cross[0, 0] + c2 * h_bb[0, 0]
        h01 = h_aa[0, 1] + c * cross[0, 1] + c2 * h_bb[0, 1]
        h11 = h_aa[1, 1] + c * cross[1, 1] + c2 * h_bb[1, 1]
        # P H P
        a00 = p00 * h00 + p01 * h01
        a01 = p00 * h01 + p01 * h11
        a10 = p01 * h00 + p11 * h01
        a11 = p01 * h01 + p11 * h11
        q00 = a00 * p00 + a01 * p01
        q01 = a00 * p01 + a01 * p11
        q11 = a10 * p01 + a11 * p11
        # e = g - P (beta_a + c beta_b)
        b0 = beta[0] + c * beta[2]
        b1 = beta[1] + c * beta[3]
        e0 = g0 - (p00 * b0 + p01 * b1)
        e1 = g1 - (p01 * b0 + p11 * b1)
        k = dof / r2
        gam00 = float(p00.sum() - q00.sum()) - k * _dot(e0, e0)
        gam01 = float(p01.sum() - q01.sum()) - k * _dot(e0, e1)
        gam11 = float(p11.sum() - q11.sum()) - k * _dot(e1, e1)
        grad = 2.0 * np.array(
            [gam00 * t0 + gam01 * t1, gam01 * t0 + gam11 * t1, gam11 * t2], dtype=np.float64
        )
    return _Evaluation(value=value, grad=grad, beta=beta, r2=r2, a_inv=a_inv)


_BOUNDS = ((0.0, None), (None, None), (0.0, None))
_BOUNDED = (0, 2)


# lme4's default start, L = I: scale-free, because D is G / sigma^2.
_START = (1.0, 0.0, 1.0)


def _polish(stats: _Stats, theta: FloatArray, max_steps: int = 25) -> tuple[FloatArray, int, bool]:
    """Newton steps on a central-difference Hessian of the analytic gradient (3 parameters)."""
    steps = 0
    for _ in range(max_steps):
        here = _evaluate(stats, theta)
        free = [j for j in range(3) if not (j in _BOUNDED and theta[j] <= 0.0 and here.grad[j] > 0)]
        hess = np.empty((3, 3))
        for j in range(3):
            h = 1e-5 * max(1.0, abs(float(theta[j])))
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            if j in _BOUNDED and down[j] < 0:  # one-sided at the boundary
                down[j] = theta[j]
                hess[:, j] = (_evaluate(stats, up).grad - here.grad) / h
            else:
                hess[:, j] = (_evaluate(stats, up).grad - _evaluate(stats, down).grad) / (2 * h)
        hess = 0.5 * (hess + hess.T)
        sub = hess[np.ix_(free, free)]
        try:
            step_free = -linalg.solve(sub, here.grad[free], assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            return theta, steps, False
        step = np.zeros(3)
        step[free] = step_free
        # Stay inside the bounds (fraction to the boundary), then backtrack on the criterion.
        alpha = 1.0
        for j in _BOUNDED:
            if step[j] < 0 and theta[j] + step[j] < 0:
                alpha = min(alpha, -theta[j] / step[j])
        slope = float(here.grad @ step)
        if slope >= 0:
            return theta, steps, True  # no descent direction left: at the optimum numerically
        while alpha > 1e-10:
            trial = theta + alpha * step
            if _evaluate(stats, trial, want_grad=False).value <= here.value + 1e-4 * alpha * slope:
                break
            alpha /= 2
        else:
            return theta, steps, True
        theta = np.maximum(theta + alpha * step, [0.0, -np.inf, 0.0])
        steps += 1
        if float(np.max(np.abs(alpha * step))) <= 1e-11 * (1.0 + float(np.max(np.abs(theta)))):
            return theta, steps, True
    return theta, steps, False


def fit_growth_model(
    group: ArrayLike, session: ArrayLike, score: ArrayLike, intake: ArrayLike
) -> GrowthFit:
    """Fit the model above by REML; one row per measured session s >= 2, rows in any order.

    ``group`` is an integer client (episode) id per row, ``intake`` the client's intake score
    repeated on each of their rows. Raises ``ValueError`` for what cannot be fitted: sessions
    below 2, NaN, mismatched lengths, an intake that varies within a group, fewer than 2 groups,
    a singular fixed-effects design.
    """
    stats = _sufficient_stats(group, session, score, intake)
    _check_design(stats)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ev = _evaluate(stats, theta)
        return ev.value, ev.grad

    result = optimize.minimize(
        objective,
        np.array(_START),
        jac=True,
        method="L-BFGS-B",
        bounds=_BOUNDS,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 10},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    theta, newton_steps, polished = _polish(stats, theta)
    final = _evaluate(stats, theta)
    dof = stats.n_obs - N_FIXED
    sigma2 = final.r2 / dof
    t0, t1, t2 = (float(v) for v in theta)
    random_cov = (sigma2 * t0 * t0, sigma2 * t0 * t1, sigma2 * (t1 * t1 + t2 * t2))
    beta = final.beta.copy()
    beta[0] += stats.shift
    se = np.sqrt(sigma2 * np.diag(final.a_inv))
    loglik = -0.5 * (final.value + dof * (1.0 + math.log(2 * math.pi / dof)))
    return GrowthFit(
        fixed={name: float(v) for name, v in zip(FIXED_NAMES, beta, strict=True)},
        fixed_se={name: float(v) for name, v in zip(FIXED_NAMES, se, strict=True)},
        random_cov=random_cov,
        residual_var=float(sigma2),
        centre=stats.centre,
        reml_loglik=float(loglik),
        n_obs=stats.n_obs,
        n_groups=stats.n_groups,
        iterations=int(result.nit) + newton_steps,
        converged=bool(polished or result.success),
    )


def fit_with_statsmodels(
    group: ArrayLike,
    session: ArrayLike,
    score: ArrayLike,
    intake: ArrayLike,
    *,
    maxiter: int = 2000,
) -> GrowthFit:
    """The same model fitted by statsmodels' MixedLM (REML): the reference of tests and bench.

    Needs statsmodels (the ``dev`` extra); Alliance itself never calls it. The design is handed
    over as arrays, the same columns as the formula ``score ~ log_s * c`` with ``groups=group``
    and ``re_formula="~log_s"``, so the timing is of the fit and not of formula parsing.
    Settings: statsmodels' own start values and its first default optimiser (BFGS) with the
    gradient tolerance tightened from SciPy's 1e-5 to 1e-8 and up to 2,000 iterations. At its
    defaults (BFGS, then L-BFGS, then CG, gtol 1e-5) it stops short of the optimum: on a
    1,500-client cohort its REML log-likelihood was 1.2e-7 below ours and its random-effect
    covariance 5.6e-5 off (L-BFGS alone: 4.5e-7 and 2.3e-4); with these settings the two fits
    agree to about 1e-7. At 1,100,000 rows BFGS stops on precision loss before gtol 1e-8 and
    reports no convergence, with its estimates still within 1.4e-6 of ours.
    """
    import warnings

    from statsmodels.regression.mixed_linear_model import MixedLM

    stats = _sufficient_stats(group, session, score, intake)
    ids = np.asarray(group)
    log_s = np.log(np.asarray(session, dtype=np.float64))
    c = np.asarray(intake, dtype=np.float64) - stats.centre
    y = np.asarray(score, dtype=np.float64)
    ones = np.ones_like(log_s)
    exog = np.column_stack([ones, log_s, c, c * log_s])
    exog_re = np.column_stack([ones, log_s])
    model = MixedLM(y, exog, groups=ids, exog_re=exog_re)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(reml=True, method=["bfgs"], maxiter=maxiter, gtol=1e-8)
    cov_re = np.asarray(result.cov_re)
    fe = np.asarray(result.fe_params)
    bse = np.asarray(result.bse_fe)
    return GrowthFit(
        fixed={name: float(v) for name, v in zip(FIXED_NAMES, fe, strict=True)},
        fixed_se={name: float(v) for name, v in zip(FIXED_NAMES, bse, strict=True)},
        random_cov=(float(cov_re[0, 0]), float(cov_re[0, 1]), float(cov_re[1, 1])),
        residual_var=float(result.scale),
        centre=stats.centre,
        reml_loglik=float(result.llf),
        n_obs=stats.n_obs,
        n_groups=stats.n_groups,
        iterations=0,
        converged=bool(result.converged),
    )
