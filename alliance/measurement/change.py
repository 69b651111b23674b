"""Reliable change and clinical significance after Jacobson & Truax.

Source for every formula in this module: Jacobson NS, Truax P. Clinical significance: a
statistical approach to defining meaningful change in psychotherapy research. J Consult Clin
Psychol. 1991;59(1):12-19.

    SE     = s1 * sqrt(1 - r_xx)        s1: SD of the pre-treatment (clinical) sample
    S_diff = sqrt(2 * SE**2)            r_xx: test-retest reliability
    RCI    = (x2 - x1) / S_diff         reliable when |RCI| > 1.96
    a = M_clin - 2 SD_clin              (two SDs beyond the clinical mean, towards functional)
    b = M_func + 2 SD_func              (within two SDs of the functional mean)
    c = (SD_clin * M_func + SD_func * M_clin) / (SD_clin + SD_func)

The signs of a and b above are for measures where a higher score is worse (all the shipped
symptom measures); ``higher_is_worse=False`` mirrors them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# Jacobson & Truax 1991: an RCI beyond 1.96 would occur by chance less than 5% of the time.
RCI_CRITICAL = 1.96

Cutoff = Literal["a", "b", "c"]
ReliableDirection = Literal["improved", "deteriorated", "none"]
Category = Literal["recovered", "improved", "unchanged", "deteriorated"]


@dataclass(frozen=True)
class Norms:
    clinical_mean: float
    clinical_sd: float
    functional_mean: float | None = None
    functional_sd: float | None = None


@dataclass(frozen=True)
class CutOffs:
    a: float
    b: float | None
    c: float | None


@dataclass(frozen=True)
class JacobsonTruaxResult:
    rci: float
    s_diff: float
    reliable: ReliableDirection
    cutoff_used: Cutoff | None
    cutoff_value: float | None
    crossed_cutoff: bool | None
    category: Category


def standard_error(sd: float, reliability: float) -> float:
    _check_spread(sd, reliability)
    return sd * math.sqrt(1.0 - reliability)


def s_diff(sd: float, reliability: float) -> float:
    return math.sqrt(2.0 * standard_error(sd, reliability) ** 2)


def reliable_change_index(first: float, last: float, sd: float, reliability: float) -> float:
    """RCI for a change from ``first`` to ``last``; its sign follows the raw change."""
    return (last - first) / s_diff(sd, reliability)


def reliable_change_threshold(sd: float, reliability: float) -> float:
    """The smallest raw change, in score points, whose RCI exceeds 1.96."""
    return RCI_CRITICAL * s_diff(sd, reliability)


def clinical_cutoffs(norms: Norms, higher_is_worse: bool = True) -> CutOffs:
    """Cut-offs a, b and c; b and c need functional-population norms and are None without them."""
    towards_functional = -1.0 if higher_is_worse else 1.0
    a = norms.clinical_mean + towards_functional * 2.0 * norms.clinical_sd
    if norms.functional_mean is None or norms.functional_sd is None:
        return CutOffs(a=a, b=None, c=None)
    b = norms.functional_mean - towards_functional * 2.0 * norms.functional_sd
    c = (norms.clinical_sd * norms.functional_mean + norms.functional_sd * norms.clinical_mean) / (
        norms.clinical_sd + norms.functional_sd
    )
    return CutOffs(a=a, b=b, c=c)


def jacobson_truax(
    first: float,
    last: float,
    *,
    sd: float,
    reliability: float,
    norms: Norms | None = None,
    cutoff: Cutoff = "c",
    higher_is_worse: bool = True,
) -> JacobsonTruaxResult:
    """Classify one client's change as recovered, improved, unchanged or deteriorated.

    Recovered means a reliable improvement that also moves the client from the clinical side of
    the chosen cut-off to the functional side. A score exactly on the cut-off counts as still on
    the clinical side (the paper does not settle ties; we choose the cautious reading).
    Without norms only the reliable-change part is decided and "recovered" is never returned.
    """
    rci = reliable_change_index(first, last, sd, reliability)
    better = -rci if higher_is_worse else rci
    reliable: ReliableDirection = "none"
    if better > RCI_CRITICAL:
        reliable = "improved"
    elif better < -RCI_CRITICAL:
        reliable = "deteriorated"
    value = None if norms is None else _pick(clinical_cutoffs(norms, higher_is_worse), cutoff)
    crossed = None
    if value is not None:
        crossed = _on_clinical_side(first, value, higher_is_worse) and not _on_clinical_side(
            last, value, higher_is_worse
        )
    category: Category = "unchanged"
    if reliable == "deteriorated":
        category = "deteriorated"
    elif reliable == "improved":
        category = "recovered" if crossed else "improved"
    return JacobsonTruaxResult(
        rci=rci,
        s_diff=s_diff(sd, reliability),
        reliable=reliable,
        cutoff_used=None if norms is None else cutoff,
        cutoff_value=value,
        crossed_cutoff=crossed,
        category=category,
    )


def _pick(cutoffs: CutOffs, which: Cutoff) -> float:
    value = {"a": cutoffs.a, "b": cutoffs.b, "c": cutoffs.c}[which]
    if value is None:
        raise ValueError(f"cut-off {which} needs functional-population norms")
    return value


def _on_clinical_side(score: float, cutoff: float, higher_is_worse: bool) -> bool:
    return score >= cutoff if higher_is_worse else score <= cutoff


def _check_spread(sd: float, reliability: float) -> None:
    if not sd > 0:
        raise ValueError("the standard deviation must be positive")
    if not 0 <= reliability < 1:
        raise ValueError("reliability must be at least 0 and less than 1")
