"""The attacker: how far a reader can narrow each hidden cell of a report from what it shows.

A reader of a suppressed table knows the cells shown, that every relation holds (a total is the
sum of its parts), the subset inequalities (recovered <= cases, ...), and that counts are whole
numbers >= 0. The hidden cells are then some integer point of the polyhedron those facts cut
out, and the reader can find, for each hidden cell, the smallest and the largest value it can
take there (its feasibility interval): two optimisation problems per cell. This is the audit of
a suppression pattern by linear programming that Hundepool et al., "Statistical Disclosure
Control" (Wiley, 2012), describe for tables. An LP relaxation can leave a cell looking open that
whole numbers pin (see the tests), so this attacker is exact for whole numbers: when the LP's
optimum is not a whole-number table, the problem is solved again with integrality (HiGHS's
branch and bound, through scipy.optimize.linprog); a bound is rounded from the LP only when that
solve runs out of time, and is then marked inexact.

Hidden cells that share no relation or inequality cannot inform each other, so each connected
group of them is its own, smaller problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csc_array

from .suppression import K, Key, Relation, Subset

TOLERANCE = 1e-6  # HiGHS's feasibility tolerance is 1e-7; whole numbers are checked to this
TIME_LIMIT = 5.0  # seconds for one branch-and-bound solve (these problems take milliseconds)


@dataclass(frozen=True)
class Range:
    """The values a hidden cell can take given what is shown; ``high`` is inf when unbounded."""

    low: float
    high: float
    # False: an end is only a bound (rounded from the LP when branch and bound ran out of time,
    # or, in weak_cells, not solved because the other end already showed the range too narrow)
    exact: bool = True

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def pinned(self) -> bool:
        return self.low == self.high


@dataclass(frozen=True)
class _Extreme:
    bound: float  # the best bound the attacker proved for the cell
    exact: bool  # the bound is attained by a consistent table
    witness: NDArray[np.float64] | None  # such a whole-number table of the group, if one is known


class _Group:
    """One connected group of hidden cells and the constraints on it: a_eq x = b_eq,
    a_ub x <= b_ub, x >= 0."""

    def __init__(self, keys: list[Key], floor: list[float]) -> None:
        self.keys = keys
        self.floor = floor  # each cell's least value: 0, or 1 for a cell known not to be 0
        self.column = {key: i for i, key in enumerate(keys)}
        self.eq: list[tuple[dict[int, float], float]] = []
        self.ub: list[tuple[dict[int, float], float]] = []

    def freeze(self) -> None:
        self.a_eq, self.b_eq = self._matrix(self.eq)
        self.a_ub, self.b_ub = self._matrix(self.ub)

    def _matrix(
        self, rows: list[tuple[dict[int, float], float]]
    ) -> tuple[Any, NDArray[np.float64] | None]:
        """A sparse matrix (scipy converts dense ones on every solve) and its right-hand side."""
        if not rows:
            return None, None
        entries = [
            (i, j, c) for i, (coefficients, _) in enumerate(rows) for j, c in coefficients.items()
        ]
        row, column, data = zip(*entries, strict=True)
        shape = (len(rows), len(self.keys))
        return csc_array((data, (row, column)), shape=shape), np.array([rhs for _, rhs in rows])

    def extreme(self, key: Key, maximise: bool, integer: bool) -> _Extreme:
        j = self.column[key]
        objective = np.zeros(len(self.keys))
        objective[j] = -1.0 if maximise else 1.0
        relaxed = self._solve(objective, None)
        if relaxed.status == 3:
            return _Extreme(math.inf, True, None)
        if relaxed.status != 0:
            raise ValueError(f"no table is consistent with the cells shown ({relaxed.message})")
        x = relaxed.x
        if _whole(x):
            return _Extreme(round(x[j]), True, np.round(x))
        if not integer:
            return _Extreme(float(x[j]), True, None)
        rounded = math.floor(x[j] + TOLERANCE) if maximise else math.ceil(x[j] - TOLERANCE)
        found = self._solve(objective, np.ones(len(self.keys)))
        if found.status == 0:
            return _Extreme(round(found.x[j]), True, np.round(found.x))
        witness = None if found.x is None or not _whole(found.x) else np.round(found.x)
        return _Extreme(rounded, False, witness)

    def witness(
        self, objective: NDArray[np.float64], bounds: list[tuple[float, float | None]]
    ) -> NDArray[np.float64] | None:
        """A whole-number table of the group optimising ``objective`` within tighter ``bounds``
        (the true table must lie within them), or None when the LP's optimum is fractional."""
        found = self._solve(objective, None, bounds)
        if found.status != 0 or not _whole(found.x):
            return None
        table: NDArray[np.float64] = np.round(found.x)
        return table

    def _solve(
        self,
        objective: NDArray[np.float64],
        integrality: NDArray[np.float64] | None,
        bounds: list[tuple[float, float | None]] | None = None,
    ) -> Any:  # scipy's OptimizeResult
        if bounds is None:
            bounds = [(f, None) for f in self.floor]
        return linprog(
            objective,
            A_ub=self.a_ub,
            b_ub=self.b_ub,
            A_eq=self.a_eq,
            b_eq=self.b_eq,
            bounds=bounds,
            method="highs",
            integrality=integrality,
            # scipy checks each option it is given at some cost: a time limit only where needed
            options={} if integrality is None else {"time_limit": TIME_LIMIT},
        )


def _whole(x: NDArray[np.float64]) -> bool:
    return bool(np.all(np.abs(x - np.round(x)) <= TOLERANCE))


class Attacker:
    """Everything a reader of the shown cells can derive about the hidden ones.

    ``nonzero``: hidden cells the reader takes to be at least 1. Where zeros are shown, a
    hidden cell is nonzero unless it is a secondary zero (a last resort of the suppression),
    so a careful reader assumes it; the defender's audit grants the attacker exactly the true
    nonzero cells. ``integer=False`` gives the plain LP relaxation (a weaker attacker).
    """

    def __init__(
        self,
        shown: Mapping[K, int],
        hidden: Iterable[Key],
        relations: Sequence[Relation],
        subsets: Iterable[Subset] = (),
        *,
        nonzero: Iterable[Key] = (),
        integer: bool = True,
    ) -> None:
        self.hidden = list[Key](dict.fromkeys(hidden))
        positive = set(nonzero)
        self.integer = integer
        counts = cast(Mapping[Key, int], shown)
        self.group_of: dict[Key, _Group] = {}
        hidden_set = set(self.hidden)
        rows: list[tuple[bool, dict[Key, float], float]] = []
        for relation in relations:
            signed = [(relation.total, 1.0)] + [(p, -1.0) for p in relation.parts]
            rows.append(_row(signed, counts, hidden_set, equality=True))
        for part, whole in subsets:
            rows.append(_row([(part, 1.0), (whole, -1.0)], counts, hidden_set, equality=False))
        rows = [row for row in rows if row[1]]
        for keys in _connected(self.hidden, [list(row[1]) for row in rows]):
            group = _Group(keys, [1.0 if k in positive else 0.0 for k in keys])
            for key in keys:
                self.group_of[key] = group
        for equality, coefficients, rhs in rows:
            group = self.group_of[next(iter(coefficients))]
            by_column = {group.column[k]: c for k, c in coefficients.items()}
            (group.eq if equality else group.ub).append((by_column, rhs))
        for group in self.groups():
            group.freeze()

    def groups(self) -> list[_Group]:
        """The groups of hidden cells, in the order of their first cells."""
        return list({id(self.group_of[k]): self.group_of[k] for k in self.hidden}.values())

    def extreme(self, key: Key, maximise: bool) -> _Extreme:
        return self.group_of[key].extreme(key, maximise, self.integer)

    def range(self, key: Key) -> Range:
        low, high = self.extreme(key, False), self.extreme(key, True)
        return Range(low.bound, high.bound, low.exact and high.exact)

    def ranges(self) -> dict[Key, Range]:
        return {key: self.range(key) for key in self.hidden}


def attack(
    shown: Mapping[K, int],
    hidden: Iterable[Key],
    relations: Sequence[Relation],
    subsets: Iterable[Subset] = (),
    *,
    nonzero: Iterable[Key] = (),
    integer: bool = True,
) -> dict[K, Range]:
    """The range of every hidden cell, from the shown cells (any hidden ones among them are
    ignored), the relations, the subset inequalities, nonnegativity and ``nonzero`` (see
    Attacker)."""
    cells = set(hidden := list(hidden))
    visible = {k: v for k, v in shown.items() if k not in cells}
    attacker = Attacker(visible, hidden, relations, subsets, nonzero=nonzero, integer=integer)
    return cast(dict[K, Range], attacker.ranges())


def weak_cells(
    values: Mapping[K, int],
    hidden: Iterable[Key],
    relations: Sequence[Relation],
    subsets: Iterable[Subset] = (),
    *,
    required: Mapping[K, int],
    default: int = 1,
    check: Iterable[Key] | None = None,
) -> dict[K, Range]:
    """The defender's audit: the hidden cells whose range is narrower than required (the width
    in ``required``, else ``default``), each with the range the attacker finds. The attacker is
    told which hidden cells are not zero (see Attacker).

    ``check`` limits the audit to some of the hidden cells (None: all). A caller that hides
    more cells need not check again a cell it found wide enough: showing fewer cells never
    narrows a range, since every table consistent with more shown cells is consistent with
    fewer (a newly hidden cell keeps its true value there, which is nonzero if it must be).
    """
    hidden_set = set(hidden := list(hidden))
    to_check = hidden_set if check is None else hidden_set & set(check)
    shown = {k: v for k, v in values.items() if k not in hidden_set}
    counts = cast(Mapping[Key, int], values)
    nonzero = [k for k in hidden if counts[k] > 0]
    attacker = Attacker(shown, hidden, relations, subsets, nonzero=nonzero)
    needs = cast(Mapping[Key, int], required)
    weak: dict[Key, Range] = {}
    for group in attacker.groups():
        if to_check.isdisjoint(group.keys):
            continue
        need = [needs.get(k, default) if k in to_check else 0 for k in group.keys]
        weak.update(_weak_in_group(group, [counts[k] for k in group.keys], need))
    return cast(dict[K, Range], weak)


def _weak_in_group(group: _Group, truth: list[int], need: list[int]) -> dict[Key, Range]:
    """The defender knows the true table, which is consistent, and every whole-number table
    the solver returns is another: a cell that two of them set ``need`` apart is wide enough.
    Two LPs over the group, pushing every unproven cell up and then down (each held within
    ``need`` of its true value, so the LP cannot trade one cell's whole range for another's),
    usually prove most cells; only the rest get their own two solves."""
    value = np.array(truth, dtype=float)
    wanted = np.array(need, dtype=float)
    low, high = value.copy(), value.copy()

    def learn(x: NDArray[np.float64] | None) -> None:
        if x is not None:
            np.minimum(low, x, out=low)
            np.maximum(high, x, out=high)

    for sign in (-1.0, 1.0):  # linprog minimises: -1 pushes up, then +1 pushes down
        open_ = high - low < wanted
        if not open_.any():
            break
        bounds: list[tuple[float, float | None]] = [
            (max(f, v - w), v + w) if o else (f, None)
            for v, w, o, f in zip(value, wanted, open_, group.floor, strict=True)
        ]
        learn(group.witness(sign * open_.astype(float), bounds))
    weak: dict[Key, Range] = {}
    for j in np.flatnonzero(high - low < wanted):
        if high[j] - low[j] >= wanted[j]:
            continue  # a witness found for an earlier cell settled this one
        key = group.keys[j]
        top = group.extreme(key, True, integer=True)
        if top.exact:
            high[j] = top.bound
        learn(top.witness)
        if high[j] - low[j] >= wanted[j]:
            continue
        if top.bound - group.floor[j] < wanted[j]:  # too narrow whatever its least value
            weak[key] = Range(group.floor[j], top.bound, exact=False)
            continue
        bottom = group.extreme(key, False, integer=True)
        if bottom.exact:
            low[j] = bottom.bound
        learn(bottom.witness)
        if high[j] - low[j] < wanted[j]:
            weak[key] = Range(bottom.bound, top.bound, bottom.exact and top.exact)
    return weak


def _row(
    signed: list[tuple[Key, float]],
    shown: Mapping[Key, int],
    hidden: AbstractSet[Key],
    *,
    equality: bool,
) -> tuple[bool, dict[Key, float], float]:
    """sum(c * cell) == 0 (or <= 0), with the shown cells moved to the right-hand side."""
    coefficients: dict[Key, float] = {}
    rhs = 0.0
    for key, c in signed:
        if key in hidden:
            coefficients[key] = coefficients.get(key, 0.0) + c
        else:
            rhs -= c * shown[key]
    return equality, coefficients, rhs


def _connected(keys: list[Key], links: list[list[Key]]) -> list[list[Key]]:
    """The groups of ``keys`` joined by sharing a link, each in the order of ``keys``."""
    parent = {key: key for key in keys}

    def root(key: Key) -> Key:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for link in links:
        first = root(link[0])
        for other in link[1:]:
            parent[root(other)] = first
    groups: dict[Key, list[Key]] = {}
    for key in keys:
        groups.setdefault(root(key), []).append(key)
    return list(groups.values())
