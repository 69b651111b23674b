"""Small-cell suppression of a table of counts: primary, secondary, and an audit that proves it.

The rule of the product: any count of 1 to 10 people is hidden (primary suppression), and so is
every further cell needed so that no hidden count can be worked out from the cells that are
shown, the totals they add up to and what any reader knows about how the counts nest (secondary
suppression). A zero is shown: it discloses no person, and hiding zeros would leave whole empty
rows and columns unreadable. (NHS Digital's rules differ in details, e.g. rounding the cells that
are shown; the product's rule is 1 to 10, hidden.)

The method follows the account of cell suppression in the chapters on tabular data of Hundepool
et al., "Statistical Disclosure Control" (Wiley, 2012): mark the sensitive (primary) cells, add
complementary (secondary) cells until every sensitive cell sits among hidden cells that can move
together without breaking any total, and audit the result the way an attacker would, computing
by linear programming the feasibility interval of each hidden cell, i.e. the smallest and
largest value it can take given everything shown (``audit_lp``). In outline, here:

1. Primary: every cell with ``low <= value <= high``.
2. Lines: a relation ``total = part + part + ...`` with exactly one hidden member (its total
   counted as a member) gives that member away by subtraction, so one more member is hidden.
   The complement is chosen to protect best and cost least: a nonzero cell (a hidden zero can
   only move up, so it protects in one direction only), a part rather than the line's total, a
   cell that closes another line with one hidden member rather than opening a new one, then the
   smallest count, then the order of ``values``. This repeats until no line has one hidden cell.
3. Audit: lines alone are not enough. Zeros shown as zeros can block a cycle of hidden cells in
   both directions, nested totals and cells shared by several relations can combine, and the
   subset inequalities (recovered <= cases, ...) can fence a hidden cell in. So the attacker of
   ``audit_lp`` is run on the result; while it can narrow a hidden cell too far, one more cell
   linked to it is hidden (the nearest nonzero shown cell, through relations and subsets), the
   lines are completed again, and the audit is repeated.

The protection required, for an attacker who knows every relation, the subset inequalities, that
counts are whole numbers and not negative, and that a hidden count is not zero (zeros are shown,
and a secondary zero is a last resort, so a careful reader assumes every hidden cell is >= 1):

* a primary cell's feasible values must span at least ``min_width`` (default 2), i.e. include at
  least three whole numbers. Not being pinned to one value is too weak: "1 or 2" or "4 or 5"
  is nearly a disclosure, and one extra fact from outside the report settles it. Three values
  leave real doubt, and the requirement can always be met (with every linked cell hidden, the
  table scaled by any whole number k >= 1 is consistent too, so a count v >= 1 can be any of
  v, 2v, 3v, ...). A stronger rule, such as requiring the range to reach outside 1..10, would
  hide most of a small service's report, so it is not the default; ``min_width`` raises it.
* a secondary cell must not be pinned to one value (it is not sensitive, but a cell shown as
  hidden should not be derivable).

The audit (scipy's linear programming) runs by default; ``audit=False`` leaves it out, and
``Suppression.audited`` records whether it ran.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

Key = Hashable  # a cell, e.g. (row, column)
K = TypeVar("K", bound=Hashable)  # the cells of one table (Mapping is invariant in its keys)
Subset = tuple[Key, Key]  # (part, whole): value[part] <= value[whole] holds for every report

SECONDARY_WIDTH = 1  # a secondary cell must only not be pinned
# audit_lp.weak_cells: (values, hidden, relations, subsets, required=, default=) -> weak cells
_WeakCells = Callable[..., Mapping[Key, object]]


@dataclass(frozen=True)
class Relation:
    """``total == sum(parts)`` holds in the true data (and every reader knows it)."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Suppression:
    primary: frozenset[Key]  # cells with low <= value <= high
    secondary: frozenset[Key]  # cells hidden so that no primary can be derived
    audited: bool = False  # True when the attacker of audit_lp checked the result

    @property
    def hidden(self) -> frozenset[Key]:
        return self.primary | self.secondary

    def apply(self, values: Mapping[K, int]) -> dict[K, int | None]:
        """The table as published: None for every hidden cell."""
        hidden = self.hidden
        return {key: None if key in hidden else value for key, value in values.items()}


def suppress(
    values: Mapping[K, int],
    relations: Sequence[Relation],
    low: int = 1,
    high: int = 10,
    *,
    subsets: Iterable[Subset] = (),
    min_width: int = 2,
    audit: bool = True,
) -> Suppression:
    """The cells to hide in ``values`` (see the module's docstring for the method).

    ``subsets`` are pairs (part, whole) with value[part] <= value[whole] known to any reader.
    ``audit``: True (the default) runs the LP audit, False leaves it out (the lines alone).
    Ties are broken by the order of ``values``, so the same table gives the same
    result. Raises ValueError when the values break a relation or a subset inequality.
    """
    table = _Table(cast(Mapping[Key, int], values), relations, tuple(subsets))
    primary = [key for key in table.keys if low <= table.values[key] <= high]
    for key in primary:
        table.hide(key)
    table.complete_lines()
    if audit:
        from .audit_lp import weak_cells  # here: audit_lp imports this module's types

        _protect(table, dict.fromkeys(primary, max(min_width, SECONDARY_WIDTH)), weak_cells)
    chosen = frozenset(primary)
    return Suppression(chosen, frozenset(table.hidden) - chosen, audit)


class _Table:
    """The cells, their links (relations and subsets) and the cells hidden so far."""

    def __init__(
        self, values: Mapping[Key, int], relations: Sequence[Relation], subsets: Sequence[Subset]
    ) -> None:
        self.values = values
        self.keys = list(values)
        self.order = {key: i for i, key in enumerate(self.keys)}
        self.relations = list(relations)
        self.subsets = subsets
        self.hidden: set[Key] = set()
        self.count = [0] * len(self.relations)  # hidden members of each relation
        self.relations_of: dict[Key, list[int]] = {key: [] for key in self.keys}
        self.neighbours: dict[Key, list[Key]] = {key: [] for key in self.keys}
        self.totals: set[Key] = {r.total for r in self.relations}
        _check(values, self.relations, subsets)
        for index, relation in enumerate(self.relations):
            for member in relation.members:
                self.relations_of[member].append(index)
                self.neighbours[member].extend(m for m in relation.members if m != member)
        for part, whole in subsets:
            self.neighbours[part].append(whole)
            self.neighbours[whole].append(part)

    def hide(self, key: Key) -> None:
        if key not in self.hidden:
            self.hidden.add(key)
            for index in self.relations_of[key]:
                self.count[index] += 1

    def ordered_hidden(self) -> list[Key]:
        return sorted(self.hidden, key=self.order.__getitem__)

    def complete_lines(self) -> None:
        """Hide one more member of every relation with exactly one hidden member, until none."""
        pending = [i for i, n in enumerate(self.count) if n == 1]
        while pending:
            index = pending.pop()
            if self.count[index] != 1:
                continue
            relation = self.relations[index]
            shown = [m for m in relation.members if m not in self.hidden]
            best = min(shown, key=lambda m: self._line_cost(m, index))
            self.hide(best)
            pending.extend(i for i in self.relations_of[best] if self.count[i] == 1)

    def _line_cost(self, key: Key, line: int) -> tuple[bool, bool, int, int, int]:
        value = self.values[key]
        others = [self.count[i] for i in self.relations_of[key] if i != line]
        opened = sum(1 for n in others if n == 0) - sum(1 for n in others if n == 1)
        is_total = key == self.relations[line].total
        return (value == 0, is_total, opened, value, self.order[key])

    def nearest_shown(self, start: Key) -> Key | None:
        """The shown cell to hide next to widen ``start``'s range: the nearest nonzero one
        linked to it through hidden cells (a part before a total, then the lines it closes,
        then the smallest), else the nearest zero."""
        seen = {start}
        frontier = [start]
        fallback: Key | None = None
        while frontier:
            found: list[Key] = []
            following: list[Key] = []
            for key in frontier:
                for other in self.neighbours[key]:
                    if other in seen:
                        continue
                    seen.add(other)
                    (following if other in self.hidden else found).append(other)
            nonzero = [k for k in found if self.values[k] > 0]
            if nonzero:
                return min(nonzero, key=self._audit_cost)
            if fallback is None and found:
                fallback = min(found, key=self.order.__getitem__)
            frontier = sorted(following, key=self.order.__getitem__)
        return fallback

    def _audit_cost(self, key: Key) -> tuple[bool, int, int, int]:
        counts = [self.count[i] for i in self.relations_of[key]]
        opened = sum(1 for n in counts if n == 0) - sum(1 for n in counts if n == 1)
        return (key in self.totals, opened, self.values[key], self.order[key])


def _protect(table: _Table, required: Mapping[Key, int], weak_cells: _WeakCells) -> None:
    """Hide more cells until the attacker can narrow no hidden cell below what it requires.
    Hiding more never narrows a range, so each round audits only the cells found weak in the
    last one and the cells hidden since."""
    pending = set(table.hidden)
    while pending:
        before = set(table.hidden)
        weak = weak_cells(
            table.values,
            table.ordered_hidden(),
            table.relations,
            table.subsets,
            required=required,
            default=SECONDARY_WIDTH,
            check=pending,
        )
        widened: set[Key] = set()
        for key in sorted(weak, key=table.order.__getitem__):
            if widened & {key, *table.neighbours[key]}:
                continue  # a cell hidden this round may already protect it: audit first
            extra = table.nearest_shown(key)
            if extra is None:
                if key in required:  # cannot happen: hiding everything protects every count
                    raise RuntimeError(f"no suppression protects cell {key!r}")
                continue
            table.hide(extra)
            table.complete_lines()
            widened |= {extra, key}
        if not widened:
            return  # nothing weak, or only secondary zeros that no hiding can free
        pending = set(weak) | (table.hidden - before)


def _check(
    values: Mapping[Key, int], relations: Sequence[Relation], subsets: Sequence[Subset]
) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"cell {key!r}: a count must be a whole number >= 0, not {value!r}")
    for relation in relations:
        members = relation.members
        if not relation.parts or len(set(members)) != len(members):
            raise ValueError(f"{relation!r}: needs parts, each cell once")
        missing = [m for m in members if m not in values]
        if missing:
            raise ValueError(f"{relation!r}: no value for {missing!r}")
        if values[relation.total] != sum(values[p] for p in relation.parts):
            raise ValueError(f"{relation!r}: the total is not the sum of its parts")
    for part, whole in subsets:
        if part not in values or whole not in values:
            raise ValueError(f"subset ({part!r}, {whole!r}): no value for one of its cells")
        if values[part] > values[whole]:
            raise ValueError(f"subset ({part!r}, {whole!r}): the part is larger than the whole")
