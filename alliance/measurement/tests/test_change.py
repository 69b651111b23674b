"""Reliable change (Jacobson & Truax 1991) and NHS Talking Therapies outcome classes.

The worked examples are computed by hand from the published formulas:
SE = s1 * sqrt(1 - r), S_diff = sqrt(2 SE^2), RCI = (x2 - x1) / S_diff;
a = M_clin - 2 SD_clin, b = M_func + 2 SD_func,
c = (SD_clin M_func + SD_func M_clin) / (SD_clin + SD_func).
"""

import math

import pytest

from alliance.measurement import (
    MeasurementError,
    Norms,
    clinical_cutoffs,
    jacobson_truax,
    load_instrument,
    paired_outcome,
    reliable_change_index,
    reliable_change_threshold,
    talking_therapies_outcome,
)
from alliance.measurement.change import s_diff, standard_error

from .helpers import SOURCES

JT = SOURCES["jt"]
TT = SOURCES["tt"]


def test_it_computes_the_rci_of_a_worked_example():
    # s1 = 5, r = .84: SE = 5 * 0.4 = 2; S_diff = sqrt(8) = 2.8284; 20 -> 12 gives -8 / 2.8284.
    assert standard_error(5, 0.84) == pytest.approx(2.0), JT
    assert s_diff(5, 0.84) == pytest.approx(math.sqrt(8)), JT
    assert reliable_change_index(20, 12, 5, 0.84) == pytest.approx(-2.828427, abs=1e-6), JT


def test_it_computes_a_second_worked_example_with_a_positive_change():
    # s1 = 7.5, r = .91: SE = 7.5 * 0.3 = 2.25; S_diff = sqrt(2 * 5.0625) = 3.181981;
    # 10 -> 14 gives 4 / 3.181981 = 1.257079 (not reliable).
    assert reliable_change_index(10, 14, 7.5, 0.91) == pytest.approx(1.257079, abs=1e-6), JT
    result = jacobson_truax(10, 14, sd=7.5, reliability=0.91)
    assert (result.reliable, result.category) == ("none", "unchanged")


def test_it_turns_the_rci_into_a_raw_point_threshold():
    # 1.96 * sqrt(8) = 5.5437
    assert reliable_change_threshold(5, 0.84) == pytest.approx(5.543717, abs=1e-6), JT


def test_it_computes_cut_offs_a_b_and_c_from_norms():
    cutoffs = clinical_cutoffs(Norms(20, 5, 5, 3))
    # a = 20 - 2*5 = 10; b = 5 + 2*3 = 11; c = (5*5 + 3*20) / 8 = 10.625
    assert (cutoffs.a, cutoffs.b) == (10, 11), JT
    assert cutoffs.c == pytest.approx(10.625), JT


def test_it_mirrors_cut_offs_a_and_b_when_higher_is_better():
    cutoffs = clinical_cutoffs(Norms(40, 8, 70, 10), higher_is_worse=False)
    # a = 40 + 16 = 56; b = 70 - 20 = 50; c = (8*70 + 10*40) / 18 = 53.333
    assert (cutoffs.a, cutoffs.b) == (56, 50), JT
    assert cutoffs.c == pytest.approx(53.3333, abs=1e-4), JT


def test_it_leaves_b_and_c_undefined_without_functional_norms():
    cutoffs = clinical_cutoffs(Norms(20, 5))
    assert (cutoffs.a, cutoffs.b, cutoffs.c) == (10, None, None)
    with pytest.raises(ValueError, match="functional"):
        jacobson_truax(20, 8, sd=5, reliability=0.84, norms=Norms(20, 5), cutoff="c")


def test_it_classes_reliable_improvement_past_cut_off_c_as_recovered():
    result = jacobson_truax(20, 8, sd=5, reliability=0.84, norms=Norms(20, 5, 5, 3))
    assert result.rci == pytest.approx(-12 / math.sqrt(8)), JT
    assert (result.reliable, result.crossed_cutoff, result.category) == (
        "improved", True, "recovered",
    )  # fmt: skip


def test_it_classes_reliable_improvement_short_of_the_cut_off_as_improved():
    result = jacobson_truax(24, 14, sd=5, reliability=0.84, norms=Norms(20, 5, 5, 3))
    assert (result.reliable, result.crossed_cutoff, result.category) == (
        "improved", False, "improved",
    )  # fmt: skip


def test_it_counts_a_score_on_the_cut_off_as_still_clinical():
    result = jacobson_truax(20, 10, sd=5, reliability=0.84, norms=Norms(20, 5), cutoff="a")
    assert result.cutoff_value == 10
    assert result.crossed_cutoff is False


def test_it_classes_a_reliable_rise_as_deterioration():
    result = jacobson_truax(8, 16, sd=5, reliability=0.84)
    assert (result.reliable, result.category) == ("deteriorated", "deteriorated"), JT


def test_it_rejects_impossible_reliability_and_spread():
    with pytest.raises(ValueError, match="reliability"):
        reliable_change_index(1, 2, 5, 1.0)
    with pytest.raises(ValueError, match="standard deviation"):
        reliable_change_index(1, 2, 0, 0.8)


def test_it_reads_talking_therapies_thresholds_from_the_instrument_data():
    phq9, gad7 = load_instrument("phq9"), load_instrument("gad7")
    assert phq9.clinical_cutoff is not None
    assert phq9.reliable_change is not None
    assert gad7.clinical_cutoff is not None
    assert gad7.reliable_change is not None
    assert (phq9.clinical_cutoff.value, phq9.reliable_change.value) == (10, 6), TT
    assert (gad7.clinical_cutoff.value, gad7.reliable_change.value) == (8, 4), TT
    assert "Talking Therapies" in phq9.clinical_cutoff.source
    assert "Talking Therapies" in gad7.reliable_change.source


@pytest.mark.parametrize(("instrument_id", "below", "at"), [("phq9", 9, 10), ("gad7", 7, 8)])
def test_it_puts_caseness_exactly_at_the_published_threshold(instrument_id, below, at):
    assert talking_therapies_outcome(below, 0, instrument_id).case_at_first is False, TT
    assert talking_therapies_outcome(at, 0, instrument_id).case_at_first is True, TT


@pytest.mark.parametrize(("instrument_id", "threshold"), [("phq9", 6), ("gad7", 4)])
def test_it_puts_reliable_change_exactly_at_the_published_threshold(instrument_id, threshold):
    start = 15
    assert talking_therapies_outcome(start, start - threshold, instrument_id).reliable_improvement
    assert not talking_therapies_outcome(
        start, start - threshold + 1, instrument_id
    ).reliable_improvement, TT
    assert talking_therapies_outcome(start, start + threshold, instrument_id).reliable_deterioration
    assert not talking_therapies_outcome(
        start, start + threshold - 1, instrument_id
    ).reliable_deterioration, TT


def test_it_classes_phq9_reliable_recovery():
    outcome = talking_therapies_outcome(16, 8, "phq9")
    assert outcome.recovered
    assert outcome.reliable_improvement
    assert outcome.reliable_recovery
    assert outcome.change == -8
    assert outcome.change_class == "reliable_improvement"


def test_it_classes_recovery_without_reliable_improvement():
    outcome = talking_therapies_outcome(11, 8, "phq9")
    assert outcome.recovered is True
    assert outcome.reliable_recovery is False
    assert outcome.no_reliable_change


def test_it_leaves_recovery_undefined_for_a_client_not_a_case_at_the_start():
    outcome = talking_therapies_outcome(7, 1, "phq9")
    assert outcome.recovered is None
    assert outcome.reliable_recovery is None
    assert outcome.reliable_improvement is True


def test_it_refuses_talking_therapies_classes_for_a_measure_without_thresholds():
    with pytest.raises(MeasurementError, match="phq2"):
        talking_therapies_outcome(5, 1, "phq2")
    with pytest.raises(MeasurementError, match="outside 0-27"):
        talking_therapies_outcome(28, 1, "phq9")


def test_it_recovers_a_pair_only_when_neither_measure_is_a_case_at_the_end():
    recovered = paired_outcome(phq9_first=14, phq9_last=6, gad7_first=6, gad7_last=7)
    assert recovered.case_at_first
    assert not recovered.case_at_last
    assert recovered.recovered
    assert recovered.reliable_improvement
    assert recovered.reliable_recovery
    still_case = paired_outcome(phq9_first=14, phq9_last=6, gad7_first=6, gad7_last=8)
    assert still_case.recovered is False, TT


def test_it_counts_a_pair_as_a_case_when_either_measure_is():
    outcome = paired_outcome(phq9_first=5, phq9_last=5, gad7_first=9, gad7_last=3)
    assert outcome.case_at_first
    assert outcome.recovered
    assert outcome.reliable_recovery


def test_it_leaves_pair_recovery_undefined_when_neither_was_a_case():
    outcome = paired_outcome(phq9_first=9, phq9_last=2, gad7_first=7, gad7_last=1)
    assert outcome.recovered is None
    assert outcome.reliable_improvement


def test_it_classes_a_pair_as_deteriorated_when_one_measure_worsens_reliably():
    outcome = paired_outcome(phq9_first=10, phq9_last=10, gad7_first=5, gad7_last=9)
    assert outcome.reliable_deterioration
    assert not outcome.reliable_improvement
    assert outcome.change_class == "reliable_deterioration"


def test_it_chooses_deterioration_when_one_improves_and_the_other_worsens():
    # Our documented reading: a reliable worsening on either measure is not cancelled by a gain.
    outcome = paired_outcome(phq9_first=20, phq9_last=10, gad7_first=5, gad7_last=12)
    assert outcome.phq9.reliable_improvement
    assert outcome.gad7.reliable_deterioration
    assert outcome.reliable_deterioration
    assert not outcome.reliable_improvement
    assert outcome.change_class == "reliable_deterioration"
    assert outcome.reliable_recovery is False


def test_it_reports_no_reliable_change_when_neither_moves_enough():
    outcome = paired_outcome(phq9_first=15, phq9_last=10, gad7_first=12, gad7_last=9)
    assert outcome.no_reliable_change
    assert outcome.change_class == "no_reliable_change"
    assert outcome.recovered is False
