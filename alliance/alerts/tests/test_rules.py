"""The alert rules, with the published thresholds they rest on.

PHQ-9 reliable change 6 and caseness 10; GAD-7 reliable change 4 and caseness 8: NHS Talking
Therapies for anxiety and depression Manual and data handbook (NHS England). PHQ-9 item 9 as the
risk item: Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-613. The thresholds are read
from the instrument files; these tests pin them so a changed file cannot go unnoticed.
"""

from __future__ import annotations

import pytest

from alliance.alerts import rules
from alliance.measurement import load_instrument, score

PHQ9 = load_instrument("phq9")
GAD7 = load_instrument("gad7")
DEFAULTS = rules.Thresholds()


def test_the_thresholds_are_the_published_ones():
    for instrument, change, cutoff in ((PHQ9, 6, 10), (GAD7, 4, 8)):
        assert instrument.reliable_change is not None
        assert instrument.clinical_cutoff is not None
        assert (instrument.reliable_change.value, instrument.clinical_cutoff.value) == (
            change,
            cutoff,
        )


@pytest.mark.parametrize(("item9", "fires"), [(0, False), (1, True), (2, True), (3, True)])
def test_any_answer_above_zero_on_phq9_item_9_is_a_risk_signal(item9, fires):
    answers = {f"item{i}": 0 for i in range(1, 9)} | {"item9": item9}
    signals = rules.risk_signals(PHQ9, score(PHQ9, answers))
    assert bool(signals) is fires
    if fires:
        assert f"answered {item9}" in signals[0].reason
        assert signals[0].facts == {"item": "item9", "value": item9, "above": 0}


def test_a_low_total_with_item_9_endorsed_still_fires():
    answers = {f"item{i}": 0 for i in range(1, 9)} | {"item9": 1}
    result = score(PHQ9, answers)
    assert result.total == 1
    assert rules.risk_signals(PHQ9, result)


@pytest.mark.parametrize(
    ("instrument", "intake", "latest", "fires"),
    [
        (PHQ9, 8, 14, True),  # +6: exactly the reliable-change threshold
        (PHQ9, 8, 13, False),  # +5: within measurement error
        (GAD7, 5, 9, True),  # +4
        (GAD7, 5, 8, False),  # +3
    ],
)
def test_reliable_deterioration_fires_at_the_threshold_and_not_below(
    instrument, intake, latest, fires
):
    signals = rules.change_signals(instrument, [intake, latest], DEFAULTS)
    assert any(s.kind == rules.DETERIORATION for s in signals) is fires


def test_the_deterioration_reason_states_the_numbers():
    (signal,) = rules.change_signals(PHQ9, [8, 15], DEFAULTS)
    assert signal.reason == (
        "PHQ-9 went from 8 at intake to 15 now (+7); a change of 6 or more is reliable"
    )


def test_not_on_track_waits_for_the_chosen_session():
    early = rules.change_signals(PHQ9, [16, 15, 15], DEFAULTS)  # third measured session
    assert early == []
    later = rules.change_signals(PHQ9, [16, 15, 15, 14], DEFAULTS)  # fourth
    assert [s.kind for s in later] == [rules.NOT_ON_TRACK]
    assert "down only 2" in later[0].reason
    assert "cut-off of 10" in later[0].reason


@pytest.mark.parametrize(
    ("totals", "fires"),
    [
        ([16, 14, 12, 11], True),  # improved by 5 only, and 11 is still a case
        ([15, 14, 12, 10], True),  # 10 is a case (caseness is 10 or more)
        ([16, 14, 12, 9], False),  # below the cut-off
        ([18, 15, 13, 12], False),  # improved by 6: reliable improvement
    ],
)
def test_not_on_track_needs_caseness_and_no_reliable_improvement(totals, fires):
    signals = rules.change_signals(PHQ9, totals, DEFAULTS)
    assert any(s.kind == rules.NOT_ON_TRACK for s in signals) is fires


def test_deterioration_is_reported_instead_of_not_on_track():
    signals = rules.change_signals(PHQ9, [10, 12, 14, 17], DEFAULTS)
    assert [s.kind for s in signals] == [rules.DETERIORATION]


def test_a_rupture_fires_below_the_clinics_floor():
    (signal,) = rules.rupture_signals([38, 29], DEFAULTS)
    assert signal.kind == rules.RUPTURE
    assert signal.reason == "Alliance check 29/40, below the clinic's threshold of 30"
    assert rules.rupture_signals([38, 30], DEFAULTS) == []


def test_a_rupture_fires_on_a_drop_below_the_clients_own_average():
    (signal,) = rules.rupture_signals([38, 38, 36, 32], DEFAULTS)  # average 37.33, drop 5.33
    assert signal.facts["drop"] == pytest.approx(5.33, abs=0.01)
    assert rules.rupture_signals([38, 38, 36, 33], DEFAULTS) == []  # drop 4.33
    assert rules.rupture_signals([38, 32], DEFAULTS) == []  # one earlier rating is no average


def test_the_clinic_can_tune_rupture_thresholds():
    strict = rules.Thresholds(rupture_floor=35, rupture_drop=2)
    assert rules.rupture_signals([34], strict)
    assert rules.rupture_signals([38, 38, 35], strict)


def test_short_names_are_abbreviations_or_the_plain_title():
    assert rules.short_name(PHQ9) == "PHQ-9"
    assert rules.short_name(load_instrument("alliance-session-check")) == "Alliance session check"
