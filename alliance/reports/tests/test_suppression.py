"""Small-cell suppression: every count of 1 to 10 is hidden, and an attacker with linear (and
integer) programming, who knows every relation, the subset inequalities and that a hidden count
is not zero, cannot pin any hidden count, nor narrow a hidden count of 1 to 10 to fewer than
three values, from what is shown. No database: these are pure functions.

The property tests are derandomised so CI repeats them exactly; ALLIANCE_SUPPRESSION_CASES=500
runs more generated tables (30 in `make test`)."""

from __future__ import annotations

import itertools
import os
import random
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from alliance.reports.audit_lp import Range, attack, weak_cells
from alliance.reports.suppression import Relation, Suppression, suppress

EXAMPLES = int(os.environ.get("ALLIANCE_SUPPRESSION_CASES", "30"))
FAST = settings(derandomize=True, max_examples=EXAMPLES, deadline=None)
MIN_WIDTH = 2  # suppress()'s default: a hidden count of 1 to 10 spans at least three values

# The report's counts, how some add up within a row, and which are subsets of which.
COLUMNS = (
    "referrals",
    "ended",
    "planned",
    "unplanned",
    "finished",
    "improved",
    "no_change",
    "deteriorated",
    "cases",
    "recovered",
    "reliably_recovered",
)
ROW_SUMS = {
    "ended": ("planned", "unplanned"),
    "finished": ("improved", "no_change", "deteriorated"),
}
SUBSETS = (
    ("ended", "referrals"),
    ("finished", "ended"),
    ("cases", "finished"),
    ("recovered", "cases"),
    ("reliably_recovered", "recovered"),
    ("reliably_recovered", "improved"),
)


# ---------------------------------------------------------------- tables, built bottom-up


def _subset_closure(columns):
    """The subset pairs among ``columns``, through any left-out column (a <= b <= c: a <= c)."""
    below = {c: {b for a, b in SUBSETS if a == c} for c in COLUMNS}
    changed = True
    while changed:
        changed = False
        for c in COLUMNS:
            more = set().union(*(below[b] for b in below[c])) - below[c]
            if more:
                below[c] |= more
                changed = True
    return [(a, b) for a in columns for b in sorted(below[a]) if b in columns]


class Table:
    """Rows (clinicians within teams, teams, "All") by count columns, with every relation."""

    def __init__(self, leaves, columns, nested, subsets=True):
        self.columns = columns
        self.values: dict[Any, int] = {}
        self.relations: list[Relation] = []
        teams: dict[Any, list[Any]] = {}
        for (team, clinician), counts in leaves.items():
            row = ("clinician", team, clinician) if nested else ("team", team)
            teams.setdefault(team, []).append(row)
            self.values.update({(row, c): counts[c] for c in columns})
        rows = [row for members in teams.values() for row in members]
        if nested:
            for team, members in teams.items():
                rows.append(self._add_total(("team", team), members))
        tops = [("team", t) for t in teams]
        rows.append(self._add_total("All", tops))
        for row in rows:
            for total, parts in ROW_SUMS.items():
                if total in columns and all(p in columns for p in parts):
                    self.relations.append(Relation((row, total), tuple((row, p) for p in parts)))
        pairs = _subset_closure(columns) if subsets else []
        self.subsets = [((row, a), (row, b)) for row in rows for a, b in pairs]

    def _add_total(self, total, members):
        for c in self.columns:
            self.values[(total, c)] = sum(self.values[(m, c)] for m in members)
            self.relations.append(Relation((total, c), tuple((m, c) for m in members)))
        return total

    def suppress(self, **options) -> Suppression:
        return suppress(self.values, self.relations, subsets=self.subsets, **options)

    def attack(self, hidden, careful=True) -> dict[Any, Range]:
        return _attack(self.values, hidden, self.relations, self.subsets, careful=careful)


def _attack(values, hidden, relations, subsets=(), *, careful=True) -> dict[Any, Range]:
    """The attacker's ranges; a careful one knows that hidden cells are not zero (zeros are
    shown, and a secondary zero is rare), which the defender grants exactly."""
    hidden = list(hidden)
    nonzero = [k for k in hidden if values[k] > 0] if careful else []
    return attack(values, hidden, relations, subsets, nonzero=nonzero)


def _exposed_cells(values, relations, found, subsets=(), width=None):
    """The hidden cells the careful attacker pins to one value, or (primaries) narrows to less
    than the required width (three values by default)."""
    width = MIN_WIDTH if width is None else width
    exposed = {}
    for key, known in _attack(values, found.hidden, relations, subsets).items():
        assert known.exact
        assert known.low <= values[key] <= known.high
        if known.pinned or (key in found.primary and known.width < width):
            exposed[key] = known
    return exposed


def _count(rng: random.Random, upper: int) -> int:
    """A count of at most ``upper``: often 0, often all of ``upper`` (everyone finished, every
    case recovered: the ties that let subset inequalities squeeze), else small or anything."""
    draw = rng.random()
    if draw < 0.15:
        return 0
    if draw < 0.55:
        return upper
    return rng.randint(0, min(upper, 10) if draw < 0.8 else upper)


def _leaf(rng: random.Random) -> dict[str, int]:
    """One clinician's counts, consistent with the row sums and the subset inequalities."""
    referrals = rng.randint(1, 10) if rng.random() < 0.5 else rng.randint(11, 40)
    ended = _count(rng, referrals)
    planned = _count(rng, ended)
    finished = _count(rng, ended)
    improved = _count(rng, finished)
    deteriorated = _count(rng, finished - improved)
    cases = _count(rng, finished)
    recovered = _count(rng, cases)
    return {
        "referrals": referrals,
        "ended": ended,
        "planned": planned,
        "unplanned": ended - planned,
        "finished": finished,
        "improved": improved,
        "no_change": finished - improved - deteriorated,
        "deteriorated": deteriorated,
        "cases": cases,
        "recovered": recovered,
        "reliably_recovered": _count(rng, min(recovered, improved)),
    }


@st.composite
def tables(draw):
    """1-4 teams, of 1-5 clinicians when nested, with every count column or some of them. The
    shape comes from hypothesis; the counts from a seeded generator it draws, whose mix of
    zeros, ties and small counts makes the lines-only heuristic fail often enough to matter."""
    nested = draw(st.booleans())
    sizes = draw(st.lists(st.integers(1, 5) if nested else st.just(1), min_size=1, max_size=4))
    chosen = draw(st.one_of(st.just(set(COLUMNS)), st.sets(st.sampled_from(COLUMNS), min_size=2)))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    leaves = {(t, k): _leaf(rng) for t, size in enumerate(sizes) for k in range(size)}
    return Table(leaves, [c for c in COLUMNS if c in chosen], nested)


# ---------------------------------------------------------------- the property


def _exposed(table, found):
    return _exposed_cells(table.values, table.relations, found, table.subsets)


def _protected(table, found):
    assert found.audited
    assert _exposed(table, found) == {}


@FAST
@given(tables())
def test_it_leaves_no_hidden_count_recoverable_from_what_is_shown(table):
    """Every count of 1 to 10 is hidden, nothing else but secondaries, the shown cells are the
    true ones, and the attacker's whole-number range of every hidden cell is wide enough."""
    found = table.suppress()
    values = table.values
    assert found.primary == {k for k, v in values.items() if 1 <= v <= 10}
    assert not found.primary & found.secondary
    assert all(values[k] == 0 or values[k] >= 11 for k in found.secondary)
    published = found.apply(values)
    assert {k for k, v in published.items() if v is None} == found.hidden
    assert all(v == values[k] for k, v in published.items() if v is not None)
    for relation in table.relations:  # no line has a single hidden member
        assert sum(m in found.hidden for m in relation.members) != 1
    _protected(table, found)
    lines_only = table.suppress(audit=False)  # the audit only adds to what the lines hide
    assert not lines_only.audited
    assert lines_only.primary == found.primary
    assert lines_only.hidden <= found.hidden
    if not found.primary:
        assert not found.secondary


def test_the_property_catches_a_suppression_without_its_audit():
    """The planted fault at the level of the property: with the audit switched off, the same
    generator soon finds a table where a hidden count can be worked out."""
    table = find(
        tables(),
        lambda t: bool(_exposed(t, t.suppress(audit=False))),
        settings=settings(
            derandomize=True, max_examples=300, deadline=None, phases=[Phase.generate]
        ),
    )
    assert _exposed(table, table.suppress(audit=False))
    _protected(table, table.suppress())


# ---------------------------------------------------------------- the attacker is right


def _brute_force(values, hidden, relations, subsets, top, nonzero=()):
    """The smallest and largest value of each hidden cell over every whole-number filling of
    the hidden cells with 0..top (1..top if nonzero) that keeps every relation and subset
    inequality true."""
    hidden = list(hidden)
    grid = np.array(list(itertools.product(range(top + 1), repeat=len(hidden))))
    column = {k: grid[:, i] for i, k in enumerate(hidden)}

    def cell(key):
        return column.get(key, values[key])

    ok = np.ones(len(grid), dtype=bool)
    for r in relations:
        ok &= cell(r.total) == sum(cell(p) for p in r.parts)
    for small, big in subsets:
        ok &= cell(small) <= cell(big)
    for key in nonzero:
        ok &= cell(key) >= 1
    return {k: (int(column[k][ok].min()), int(column[k][ok].max())) for k in hidden}


def _ends(ranges):
    return {k: (r.low, r.high) for k, r in ranges.items()}


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 2), min_size=3, max_size=3), min_size=2, max_size=2),
    st.sets(st.integers(0, 10), min_size=1, max_size=5),
    st.booleans(),
    st.booleans(),
)
def test_the_attacker_finds_what_brute_force_finds_in_a_table_with_margins(
    grid, picks, subset, careful
):
    """A 2 x 3 table with row and column totals; the grand total stays shown, so no cell can
    exceed it and brute force need not look further."""
    values: dict[Any, int] = {}
    for r, counts in enumerate(grid):
        values.update({(r, c): v for c, v in enumerate(counts)})
        values[(r, "T")] = sum(counts)
    for c in [0, 1, 2, "T"]:
        values[("All", c)] = values[(0, c)] + values[(1, c)]
    relations = [Relation((r, "T"), ((r, 0), (r, 1), (r, 2))) for r in (0, 1, "All")]
    relations += [Relation(("All", c), ((0, c), (1, c))) for c in (0, 1, 2, "T")]
    subsets = [((0, 0), (1, 0))] if subset and values[(0, 0)] <= values[(1, 0)] else []
    keys = list(values)
    hidden = [keys[i] for i in sorted(picks)]
    nonzero = [k for k in hidden if values[k] > 0] if careful else []
    truth = _brute_force(values, hidden, relations, subsets, values[("All", "T")], nonzero)
    assert _ends(attack(values, hidden, relations, subsets, nonzero=nonzero)) == truth


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.data())
def test_the_attacker_finds_what_brute_force_finds_in_tangled_relations(data):
    """Cells in overlapping sums (as across nested and cross-cutting groupings), where the LP
    relaxation can have fractional corners and only the whole-number attacker is exact."""
    draw = data.draw
    cells = {f"x{i}": draw(st.integers(0, 3)) for i in range(draw(st.integers(3, 5)))}
    values = dict(cells)
    relations = []
    for i in range(draw(st.integers(1, 4))):
        parts = draw(st.lists(st.sampled_from(sorted(cells)), min_size=2, max_size=3, unique=True))
        values[f"t{i}"] = sum(cells[p] for p in parts)
        relations.append(Relation(f"t{i}", tuple(parts)))
    hidden = sorted(cells)
    top = max(v for k, v in values.items() if k.startswith("t"))
    truth = _brute_force(values, hidden, relations, [], top)
    unbounded = {k for k in hidden if not any(k in r.parts for r in relations)}
    found = attack(values, hidden, relations)
    for key in hidden:
        if key in unbounded:  # in no sum: anything from 0 up
            assert _ends({key: found[key]}) == {key: (0, float("inf"))}
        else:
            assert _ends({key: found[key]}) == {key: truth[key]}


def test_the_whole_number_attacker_pins_a_cell_the_lp_relaxation_leaves_open():
    """t0 = x0 + x2 + x3, t1 = x1 + x0, t2 = x2 + x1 with t0, t1, t2 = 2, 3, 4 shown. The LP
    can take x0 = x2 = 1/2, x3 = 0, x1 = 5/2, so a relaxation audit, even rounded, gives x3
    the range 0..1; but in whole numbers x0 = 0 and x3 = 1 is the only table."""
    values = {"x0": 0, "x1": 3, "x2": 1, "x3": 1, "t0": 2, "t1": 3, "t2": 4}
    relations = [
        Relation("t0", ("x0", "x2", "x3")),
        Relation("t1", ("x1", "x0")),
        Relation("t2", ("x2", "x1")),
    ]
    hidden = ["x0", "x1", "x2", "x3"]
    relaxed = attack(values, hidden, relations, integer=False)
    assert relaxed["x3"] == Range(0, 1)
    assert relaxed["x1"] == Range(2.5, 3)
    exact = attack(values, hidden, relations)
    assert _ends(exact) == {"x0": (0, 0), "x1": (3, 3), "x2": (1, 1), "x3": (1, 1)}
    assert _ends(exact) == _brute_force(values, hidden, relations, [], 4)
    found = suppress(values, relations)
    assert found.audited
    assert _exposed_cells(values, relations, found) == {}


# ---------------------------------------------------------------- concrete tables


def _grid(rows, *, margins=True):
    """A table from {row: [counts]}: each row's total in "T", each column's in "All"."""
    width = len(next(iter(rows.values())))
    columns = [*range(width), "T"] if margins else list(range(width))
    values: dict[Any, int] = {}
    for r, counts in rows.items():
        values.update({(r, c): v for c, v in enumerate(counts)})
        if margins:
            values[(r, "T")] = sum(counts)
    relations = []
    if margins:
        for c in columns:
            values[("All", c)] = sum(values[(r, c)] for r in rows)
        relations += [
            Relation((r, "T"), tuple((r, c) for c in range(width))) for r in [*rows, "All"]
        ]
        relations += [Relation(("All", c), tuple((r, c) for r in rows)) for c in columns]
    return values, relations


def test_a_rectangle_closed_by_zeros_is_caught_and_avoided():
    """Two primaries in one column; hiding the smallest cell of each row (two zeros) gives every
    line two hidden cells, yet the zeros pin both primaries: the attacker recovers 5 and 7."""
    values, relations = _grid({"r1": [5, 0, 30], "r2": [7, 0, 30], "r3": [20, 20, 20]})
    naive = {("r1", 0), ("r2", 0), ("r1", 1), ("r2", 1)}
    for relation in relations:
        assert sum(m in naive for m in relation.members) in (0, 2)
    pinned = attack(values, naive, relations)
    assert pinned[("r1", 0)] == Range(5, 5)
    assert pinned[("r2", 0)] == Range(7, 7)
    found = suppress(values, relations)
    assert found.primary == {("r1", 0), ("r2", 0)}
    assert not found.hidden & {("r1", 1), ("r2", 1)}  # a nonzero complement is chosen
    assert _exposed_cells(values, relations, found) == {}


def test_subset_inequalities_can_pin_a_count_the_lines_leave_open_and_the_audit_frees_it():
    """Team A ended 2 of its 19 referrals, so its "ended" is hidden and team B's (34) is its
    only nonzero partner in the column. Every line then has two hidden cells, yet B's ended
    lies between B's cases (34) and B's referrals (34): it is 34, and A's is 36 - 34 = 2."""
    leaves = {
        ("A", 0): {"referrals": 19, "ended": 2, "cases": 0},
        ("B", 0): {"referrals": 34, "ended": 34, "cases": 34},
        ("C", 0): {"referrals": 0, "ended": 0, "cases": 0},
    }
    table = Table(leaves, ["referrals", "ended", "cases"], nested=False)
    assert ((("team", "B"), "cases"), (("team", "B"), "ended")) in table.subsets
    lines_only = table.suppress(audit=False)
    a_ended = (("team", "A"), "ended")
    assert lines_only.hidden == {a_ended, (("team", "B"), "ended")}
    assert table.attack(lines_only.hidden)[a_ended] == Range(2, 2)
    found = table.suppress()
    assert found.hidden > lines_only.hidden
    _protected(table, found)


def test_zeros_in_nested_rows_can_pin_a_count_the_lines_leave_open_and_the_audit_frees_it():
    """Found by the property test's generator (no subset inequalities at all): the zeros of
    team 1's rows and columns close every way clinician (1, 0)'s "finished" of 3 could move."""
    zero = dict.fromkeys(["unplanned", "finished", "improved", "no_change", "deteriorated"], 0)
    zero["recovered"] = 0
    leaves = {
        (0, 0): zero,
        (1, 0): zero | {"finished": 3, "no_change": 2, "deteriorated": 1},
        (1, 1): zero,
        (1, 2): zero | {"unplanned": 26, "finished": 6, "improved": 6, "recovered": 6},
        (2, 0): zero,
        (2, 1): zero | {"unplanned": 1, "finished": 9, "improved": 9},
        (2, 2): zero,
    }
    table = Table(leaves, list(zero), nested=True, subsets=False)
    lines_only = table.suppress(audit=False)
    for relation in table.relations:
        assert sum(m in lines_only.hidden for m in relation.members) != 1
    pinned = table.attack(lines_only.hidden)[(("clinician", 1, 0), "finished")]
    assert pinned == Range(3, 3)
    found = table.suppress()
    assert found.hidden > lines_only.hidden
    _protected(table, found)


def test_a_single_relation_hides_the_smallest_other_part():
    values = {"all": 60, "a": 4, "b": 25, "c": 12, "d": 19}
    found = suppress(values, [Relation("all", ("a", "b", "c", "d"))])
    assert found.primary == {"a"}
    assert found.secondary == {"c"}
    known = _attack(values, found.hidden, [Relation("all", ("a", "b", "c", "d"))])
    assert known["a"] == Range(1, 15)


def test_two_hidden_ones_in_a_line_are_not_left_to_each_other():
    """1 + 1 + 20 = 22: hiding both 1s leaves them 0..2 to a reader who forgets that zeros are
    shown; one who remembers knows a hidden cell is at least 1, so both are 1. The 20 goes too."""
    values = {"all": 22, "a": 1, "b": 1, "c": 20}
    relation = [Relation("all", ("a", "b", "c"))]
    assert _attack(values, ["a", "b"], relation, careful=False)["a"] == Range(0, 2)
    assert _attack(values, ["a", "b"], relation)["a"] == Range(1, 1)
    found = suppress(values, relation)
    assert found.secondary == {"c"}
    assert _attack(values, found.hidden, relation)["a"] == Range(1, 20)


def test_a_table_without_small_counts_is_shown_whole():
    values, relations = _grid({"r1": [0, 11, 30], "r2": [12, 0, 40]})
    found = suppress(values, relations)
    assert found == Suppression(frozenset(), frozenset(), audited=True)
    assert found.apply(values) == values


def test_a_table_of_small_counts_hides_every_count_and_shows_its_zeros():
    values, relations = _grid({"r1": [1, 0, 2], "r2": [3, 1, 0]})
    found = suppress(values, relations)
    assert found.hidden == {k for k, v in values.items() if v}
    assert not found.secondary
    assert {k: v for k, v in found.apply(values).items() if v is not None} == {
        ("r1", 1): 0,
        ("r2", 2): 0,
    }
    for key, known in _attack(values, found.hidden, relations).items():
        assert known.low >= 1, key
        assert known.high == float("inf"), key


def test_a_nested_hierarchy_pairs_a_clinician_with_a_colleague_and_keeps_team_totals():
    """Clinicians with 3 (team A) and 8 (team B) referrals: each is paired with the smaller
    colleague of their own team, which leaves both team totals and "All" shown."""
    leaves = {
        ("A", 1): {"referrals": 3},
        ("A", 2): {"referrals": 40},
        ("A", 3): {"referrals": 25},
        ("B", 1): {"referrals": 50},
        ("B", 2): {"referrals": 8},
    }
    table = Table(leaves, ["referrals"], nested=True)
    found = table.suppress()
    assert found.primary == {
        (("clinician", "A", 1), "referrals"),
        (("clinician", "B", 2), "referrals"),
    }
    assert (("clinician", "A", 2), "referrals") not in found.hidden  # 25 is the smaller partner
    assert found.secondary == {
        (("clinician", "A", 3), "referrals"),
        (("clinician", "B", 1), "referrals"),
    }
    _protected(table, found)


def test_a_team_total_of_small_counts_carries_suppression_up_and_down():
    """Team B's only clinician has 6: the clinician and the team total are both primaries (they
    are equal), so team B's total needs a partner in "All" and that partner's clinicians need
    one more hidden cell below it."""
    leaves = {("A", 1): {"referrals": 30}, ("A", 2): {"referrals": 45}, ("B", 1): {"referrals": 6}}
    table = Table(leaves, ["referrals"], nested=True)
    found = table.suppress()
    a_total = (("team", "A"), "referrals")
    assert a_total in found.secondary
    assert (("clinician", "A", 1), "referrals") in found.secondary  # 30 < 45
    _protected(table, found)


def test_a_subset_inequality_can_fence_in_a_count_and_the_audit_sees_it():
    """Recovered <= cases in every row. Team A: 5 cases, 5 recovered (both hidden). If the
    lines hid team B's recovered and team C's cases, then C's recovered (shown, 11) <= C's
    cases and B's recovered <= B's cases (shown, 12) would squeeze A to 4 or 5."""
    leaves = {
        ("A", 0): {"cases": 5, "recovered": 5},
        ("B", 0): {"cases": 12, "recovered": 11},
        ("C", 0): {"cases": 11, "recovered": 11},
    }
    table = Table(leaves, ["cases", "recovered"], nested=False)
    a_rec, a_cases = (("team", "A"), "recovered"), (("team", "A"), "cases")
    b_rec, c_cases = (("team", "B"), "recovered"), (("team", "C"), "cases")
    squeezed = table.attack([a_rec, a_cases, b_rec, c_cases])
    assert squeezed[a_rec] == Range(4, 5)
    assert squeezed[a_cases] == Range(4, 5)
    _protected(table, table.suppress())


def test_a_weakened_suppression_of_primaries_only_is_caught_by_the_attacker():
    """The planted fault: skip secondary suppression, and the attacker recovers every hidden
    count exactly, which the defender's audit reports."""
    table = Table(
        {
            ("A", 1): {"referrals": 3, "ended": 2, "planned": 2, "unplanned": 0},
            ("A", 2): {"referrals": 40, "ended": 30, "planned": 18, "unplanned": 12},
            ("B", 1): {"referrals": 35, "ended": 33, "planned": 25, "unplanned": 8},
        },
        ["referrals", "ended", "planned", "unplanned"],
        nested=True,
    )
    primary_only = [k for k, v in table.values.items() if 1 <= v <= 10]
    recovered = table.attack(primary_only)
    for key in primary_only:
        assert recovered[key] == Range(table.values[key], table.values[key]), key
    weak = weak_cells(
        table.values, primary_only, table.relations, table.subsets, required={}, default=1
    )
    assert set(weak) == set(primary_only)
    found = table.suppress()
    assert not weak_cells(
        table.values, list(found.hidden), table.relations, table.subsets, required={}
    )


def test_a_wider_protection_can_be_asked_for():
    """With 4 and 12 hidden, 4 can be anything from 1 to 15: enough for the default, not for a
    required width of 20, which takes 19 too (1 to 33)."""
    values = {"all": 60, "a": 4, "b": 25, "c": 12, "d": 19, "e": 0}
    relation = [Relation("all", ("a", "b", "c", "d", "e"))]
    assert suppress(values, relation).hidden == {"a", "c"}
    assert suppress(values, relation, min_width=20).hidden == {"a", "c", "d"}
    values, relations = _grid({"r1": [2, 0, 30], "r2": [1, 20, 30], "r3": [40, 40, 40]})
    wide = suppress(values, relations, min_width=20)
    assert _exposed_cells(values, relations, wide, width=20) == {}


def test_it_refuses_values_that_break_their_relations():
    with pytest.raises(ValueError, match="not the sum"):
        suppress({"all": 10, "a": 4, "b": 5}, [Relation("all", ("a", "b"))])
    with pytest.raises(ValueError, match="larger than the whole"):
        suppress({"a": 4, "b": 3}, [], subsets=[("a", "b")])
    with pytest.raises(ValueError, match="whole number"):
        suppress({"a": -1}, [])


def test_it_suppresses_a_report_of_250_cells_in_well_under_a_second():
    """4 teams of 5 clinicians, 10 counts each, many of them small (a busy report's worst)."""
    rng = random.Random(2026)

    def small(upper):
        return min(upper, rng.choice([0, rng.randint(1, 10), rng.randint(0, 40)]))

    leaves = {}
    for team, clinician in itertools.product(range(4), range(5)):
        referrals = rng.randint(3, 60)
        ended = small(referrals)
        planned = small(ended)
        finished = small(ended)
        improved = small(finished)
        deteriorated = small(finished - improved)
        cases = small(finished)
        leaves[(team, clinician)] = {
            "referrals": referrals,
            "ended": ended,
            "planned": planned,
            "unplanned": ended - planned,
            "finished": finished,
            "improved": improved,
            "no_change": finished - improved - deteriorated,
            "deteriorated": deteriorated,
            "cases": cases,
            "recovered": small(cases),
        }
    table = Table(leaves, [c for c in COLUMNS if c != "reliably_recovered"], nested=True)
    assert len(table.values) == 250
    started = time.perf_counter()
    found = table.suppress()
    elapsed = time.perf_counter() - started
    assert len(found.primary) > 50
    assert found.secondary
    assert elapsed < 3.0, elapsed  # well under a second here; generous for a busy CI machine
