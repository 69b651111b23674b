"""Totals, bands, risk flags and missing items, with every published band edge tested."""

from dataclasses import replace

import pytest

from alliance.measurement import (
    AnswerOutOfRangeError,
    MissingPolicy,
    UnknownItemError,
    load_instrument,
    score,
)

from .helpers import SOURCES


def answers_summing_to(instrument_id, total):
    """Answers that add up to ``total``, filling items in order."""
    instrument = load_instrument(instrument_id)
    answers = {}
    for item in instrument.scored_items:
        value = min(max(item.scores), total)
        answers[item.link_id] = value
        total -= value
    assert total == 0
    return answers


# (instrument, total, expected band code, source of the edge)
BAND_EDGES = [
    ("phq9", 0, "minimal", SOURCES["phq9"]),
    ("phq9", 4, "minimal", SOURCES["phq9"]),
    ("phq9", 5, "mild", SOURCES["phq9"]),
    ("phq9", 9, "mild", SOURCES["phq9"]),
    ("phq9", 10, "moderate", SOURCES["phq9"]),
    ("phq9", 14, "moderate", SOURCES["phq9"]),
    ("phq9", 15, "moderately-severe", SOURCES["phq9"]),
    ("phq9", 19, "moderately-severe", SOURCES["phq9"]),
    ("phq9", 20, "severe", SOURCES["phq9"]),
    ("phq9", 27, "severe", SOURCES["phq9"]),
    ("gad7", 0, "minimal", SOURCES["gad7"]),
    ("gad7", 4, "minimal", SOURCES["gad7"]),
    ("gad7", 5, "mild", SOURCES["gad7"]),
    ("gad7", 9, "mild", SOURCES["gad7"]),
    ("gad7", 10, "moderate", SOURCES["gad7"]),
    ("gad7", 14, "moderate", SOURCES["gad7"]),
    ("gad7", 15, "severe", SOURCES["gad7"]),
    ("gad7", 21, "severe", SOURCES["gad7"]),
    ("phq2", 2, "below-cutoff", SOURCES["phq2"]),
    ("phq2", 3, "positive-screen", SOURCES["phq2"]),
    ("gad2", 2, "below-cutoff", SOURCES["gad2"]),
    ("gad2", 3, "positive-screen", SOURCES["gad2"]),
]


@pytest.mark.parametrize(("instrument_id", "total", "band_code", "source"), BAND_EDGES)
def test_it_puts_every_published_band_edge_in_the_right_band(
    instrument_id, total, band_code, source
):
    result = score(load_instrument(instrument_id), answers_summing_to(instrument_id, total))
    assert (result.total, result.band_code) == (total, band_code), source


def test_it_scores_a_full_phq9_by_summing_items_one_to_nine():
    phq9 = load_instrument("phq9")
    values = [2, 2, 2, 2, 1, 1, 2, 0, 0]
    answers = {f"item{i}": v for i, v in enumerate(values, 1)} | {"difficulty": 3}
    result = score(phq9, answers)
    # The difficulty question is recorded but never added (Kroenke et al. 2001).
    assert (result.total, result.band, result.complete) == (12, "moderate", True)
    assert result.unscored_items == {"difficulty": 3}
    assert result.items["item7"] == 2
    assert result.flags == []


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_it_flags_any_answer_above_zero_on_phq9_item9(item9):
    answers = {f"item{i}": 0 for i in range(1, 9)} | {"item9": item9}
    result = score(load_instrument("phq9"), answers)
    assert result.flags == ["risk:item9"]
    assert result.band == "minimal"  # the flag stands even when the total is low


def test_it_raises_no_risk_flag_when_item9_is_zero():
    answers = {f"item{i}": 3 for i in range(1, 9)} | {"item9": 0}
    assert score(load_instrument("phq9"), answers).flags == []


def test_it_flags_an_unanswered_item9_instead_of_staying_quiet():
    answers = {f"item{i}": 0 for i in range(1, 9)}
    result = score(load_instrument("phq9"), answers)
    assert result.flags == ["risk-unanswered:item9"]


def test_it_gives_no_total_and_says_why_when_an_item_is_missing():
    answers = {f"item{i}": 3 for i in range(1, 10)} | {"item4": None}
    result = score(load_instrument("phq9"), answers)
    assert result.total is None
    assert result.band is None
    assert result.complete is False
    assert result.missing == ["item4"]
    reason = str(result.incomplete_reason)
    assert "1 of 9 scored items unanswered (item4)" in reason
    assert "no total unless every scored item is answered" in reason


def test_it_never_counts_an_empty_response_as_zero():
    result = score(load_instrument("gad7"), {})
    assert result.total is None
    assert not result.complete
    assert len(result.missing) == 7


def test_it_prorates_only_when_an_instrument_policy_says_so():
    policy = MissingPolicy(rule="prorate", max_missing=1, source="test policy")
    gad7 = replace(load_instrument("gad7"), missing_policy=policy)
    answers = {f"item{i}": v for i, v in enumerate([3, 3, 2, 2, 1, 1], 1)}
    result = score(gad7, answers)
    # 12 over six items -> mean 2 -> 14 for seven items.
    assert (result.total, result.prorated, result.complete) == (14, True, False)
    answers.pop("item6")
    assert score(gad7, answers).total is None


def test_it_rounds_a_prorated_half_point_up():
    policy = MissingPolicy(rule="prorate", max_missing=1, source="test policy")
    phq2 = replace(load_instrument("phq2"), missing_policy=policy)
    assert score(phq2, {"item1": 1}).total == 2
    session = replace(load_instrument("alliance-session-check"), missing_policy=policy)
    # 7 + 8 + 8 = 23 over three items; 23 * 4 / 3 = 30.67 -> 31
    assert score(session, {"heard": 7, "goals": 8, "approach": 8}).total == 31
    # 5 + 5 + 6 = 16; 16 * 4 / 3 = 21.33 -> 21
    assert score(session, {"heard": 5, "goals": 5, "approach": 6}).total == 21


@pytest.mark.parametrize("bad", [4, -1, 2.0, True, "2"])
def test_it_refuses_an_answer_that_is_not_a_response_score(bad):
    with pytest.raises(AnswerOutOfRangeError, match="item3"):
        score(load_instrument("phq9"), {"item3": bad})


def test_it_refuses_an_answer_to_an_item_the_instrument_lacks():
    with pytest.raises(UnknownItemError, match="item10"):
        score(load_instrument("phq9"), {"item10": 1})


def test_it_scores_the_session_check_out_of_forty():
    session = load_instrument("alliance-session-check")
    result = score(session, {"heard": 9, "goals": 7, "approach": 8, "overall": 10})
    assert (result.total, result.band, result.complete) == (34, None, True)


def test_it_scores_a_goal_progress_rating():
    result = score(load_instrument("alliance-goal-progress"), {"progress": 6})
    assert result.total == 6
    assert result.items == {"progress": 6}
