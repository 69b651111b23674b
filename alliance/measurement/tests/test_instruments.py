"""The shipped instrument definitions: ids, codes, notices, and that the data is well formed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alliance.measurement import (
    UnknownInstrumentError,
    instrument_from_dict,
    instrument_to_dict,
    load_instrument,
    shipped_instruments,
)

LOINC_NOTICE = "This material contains content from LOINC (http://loinc.org)."
PHQ9_ITEM_CODES = [
    "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
    "44260-8",
]  # fmt: skip
# 68509-9, not 68509-0: the LOINC check digit of 68509 is 9 (see test below), and HL7's GAD-7
# examples use 68509-9.
GAD7_ITEM_CODES = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
FREQUENCY_CODES = [("LA6568-5", 0), ("LA6569-3", 1), ("LA6570-1", 2), ("LA6571-9", 3)]


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit (LOINC Users' Guide, appendix on check digits)."""
    digits = number[::-1]
    doubled = str(int(digits[0::2][::-1]) * 2)
    joined = digits[1::2][::-1] + doubled
    return (10 - sum(int(d) for d in joined) % 10) % 10


def all_loinc_codes() -> list[str]:
    codes = []
    for instrument in shipped_instruments():
        codes += [c for c in (instrument.panel_loinc, instrument.total_loinc) if c]
        codes += [item.loinc for item in instrument.items if item.loinc]
    return codes


def test_it_ships_the_six_instruments_by_id():
    ids = [i.id for i in shipped_instruments()]
    assert ids == [
        "phq9", "gad7", "phq2", "gad2", "alliance-session-check", "alliance-goal-progress",
    ]  # fmt: skip


def test_it_refuses_an_unknown_instrument_id():
    with pytest.raises(UnknownInstrumentError, match="core-10"):
        load_instrument("core-10")


def test_it_codes_the_phq9_items_and_total_with_loinc():
    phq9 = load_instrument("phq9")
    assert [item.loinc for item in phq9.scored_items] == PHQ9_ITEM_CODES
    assert (phq9.panel_loinc, phq9.total_loinc) == ("44249-1", "44261-6")
    difficulty = phq9.item("difficulty")
    assert difficulty.loinc == "69722-7"
    assert not difficulty.scored


def test_it_codes_the_gad7_items_and_total_with_loinc():
    gad7 = load_instrument("gad7")
    assert [item.loinc for item in gad7.scored_items] == GAD7_ITEM_CODES
    assert (gad7.panel_loinc, gad7.total_loinc) == ("69737-5", "70274-6")


def test_it_builds_phq2_and_gad2_from_the_first_two_items():
    assert [i.loinc for i in load_instrument("phq2").items] == PHQ9_ITEM_CODES[:2]
    assert [i.loinc for i in load_instrument("gad2").items] == GAD7_ITEM_CODES[:2]
    assert load_instrument("phq2").total_loinc == "55758-7"
    # No GAD-2 total code is shipped: we could not confirm one (70273-8 is the PHQ-15 total).
    assert load_instrument("gad2").total_loinc is None


def test_it_uses_loinc_answer_codes_for_the_frequency_scale():
    for instrument_id in ("phq9", "gad7", "phq2", "gad2"):
        for item in load_instrument(instrument_id).scored_items:
            assert [(o.code, o.score) for o in item.options] == FREQUENCY_CODES


@pytest.mark.parametrize("code", all_loinc_codes())
def test_it_ships_only_loinc_codes_with_a_valid_check_digit(code):
    number, check = code.split("-")
    assert loinc_check_digit(number) == int(check)


def test_it_keeps_the_pfizer_and_loinc_notices():
    for instrument_id in ("phq9", "gad7", "phq2", "gad2"):
        instrument = load_instrument(instrument_id)
        assert "No permission required to reproduce, translate, display or distribute" in (
            instrument.licence
        )
        assert any(LOINC_NOTICE in notice for notice in instrument.notices)


def test_it_labels_our_own_measures_as_not_validated():
    for instrument_id in ("alliance-session-check", "alliance-goal-progress"):
        instrument = load_instrument(instrument_id)
        assert instrument.validated is False
        assert "not a validated instrument" in instrument.title
        assert "Not a validated instrument" in instrument.licence
        assert instrument.bands == ()
        assert instrument.reliable_change is None
        assert all(item.scores == frozenset(range(11)) for item in instrument.items)


def test_it_asks_the_session_check_about_the_four_alliance_areas():
    session = load_instrument("alliance-session-check")
    assert [i.link_id for i in session.items] == ["heard", "goals", "approach", "overall"]
    assert (session.min_total, session.max_total) == (0, 40)
    assert session.direction == "higher-is-better"


def test_it_covers_every_possible_total_with_exactly_one_band():
    for instrument in shipped_instruments():
        if not instrument.bands:
            continue
        covered = [t for band in instrument.bands for t in range(band.min, band.max + 1)]
        assert covered == list(range(instrument.min_total, instrument.max_total + 1))


def test_it_writes_down_a_sourced_missing_item_policy_for_every_instrument():
    for instrument in shipped_instruments():
        assert instrument.missing_policy.rule == "complete-only"
        assert instrument.missing_policy.source


def test_it_reads_back_what_it_writes():
    for instrument in shipped_instruments():
        assert instrument_from_dict(instrument_to_dict(instrument)) == instrument


def test_it_keeps_the_data_files_in_the_dictionary_format():
    folder = Path(__file__).resolve().parents[1] / "instruments"
    for path in folder.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["id"] == path.stem
        assert load_instrument(data["id"]) == instrument_from_dict(data)


def test_it_imports_without_django():
    code = (
        "import sys, alliance.measurement, alliance.measurement.fhir, alliance.measurement.cli;"
        "sys.exit('django' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[3]
    completed = subprocess.run([sys.executable, "-c", code], cwd=root, check=False)
    assert completed.returncode == 0
