"""The external FHIR files in ../shared/fixtures/fhir score to what their items say."""

import pytest

from alliance.measurement import load_instrument, score
from alliance.measurement.fhir import (
    instrument_from_questionnaire,
    score_questionnaire_response,
)

from .helpers import FIXTURES, fixture, response

USCORE_QR = "uscore__QuestionnaireResponse-phq-9-example.json"
# Items of the US Core example response, read from its LOINC answer codes:
# LA6570-1 x4, LA6569-3 x2, LA6570-1, LA6568-5 x2 -> 2,2,2,2,1,1,2,0,0 = 12 (moderate, 10-14).
USCORE_ITEMS = [2, 2, 2, 2, 1, 1, 2, 0, 0]


def test_it_finds_the_fixture_folder_beside_the_repository():
    assert (FIXTURES / USCORE_QR).is_file()


def test_it_scores_the_us_core_response_from_its_items():
    scored = score_questionnaire_response(fixture(USCORE_QR))
    assert scored.instrument.id == "phq9"
    assert scored.identified_by == "loinc"
    assert list(scored.result.items.values()) == USCORE_ITEMS
    assert (scored.result.total, scored.result.band, scored.result.flags) == (12, "moderate", [])
    assert scored.result.unscored_items == {"difficulty": 1}  # LA6573-5, never summed


def test_it_checks_the_stored_us_core_total_rather_than_using_it():
    scored = score_questionnaire_response(fixture(USCORE_QR))
    assert (scored.stored_total, scored.stored_total_matches) == (12, True)
    tampered = fixture(USCORE_QR)
    total_item = next(i for i in tampered["item"] if i["linkId"] == "/44261-6")
    total_item["answer"] = [{"valueDecimal": 20}]
    scored = score_questionnaire_response(tampered)
    assert scored.result.total == 12
    assert scored.result.band == "moderate"
    assert (scored.stored_total, scored.stored_total_matches) == (20, False)


@pytest.mark.parametrize("name", ["uscore__Questionnaire-phq-9-example.json", "lforms__phq9.json"])
def test_it_recognises_a_published_phq9_questionnaire_as_the_phq9(name):
    imported = instrument_from_questionnaire(fixture(name))
    assert imported.id == "phq9"
    assert imported.bands == load_instrument("phq9").bands
    assert [i.loinc for i in imported.scored_items] == [
        i.loinc for i in load_instrument("phq9").scored_items
    ]
    assert all(i.scores == frozenset({0, 1, 2, 3}) for i in imported.scored_items)
    assert not imported.item("/69722-7").scored  # the difficulty question
    assert imported.total_link_id == "/44261-6"
    assert [r.link_id for r in imported.risk_items] == ["/44260-8"]


def test_it_scores_the_us_core_response_against_its_own_questionnaire():
    imported = instrument_from_questionnaire(fixture("uscore__Questionnaire-phq-9-example.json"))
    scored = score_questionnaire_response(fixture(USCORE_QR), imported)
    assert list(scored.result.items.values()) == USCORE_ITEMS
    assert (scored.result.total, scored.stored_total_matches) == (12, True)


def test_it_takes_weights_from_the_lforms_ordinal_values():
    lforms = instrument_from_questionnaire(fixture("lforms__phq9.json"))
    qr = response(lforms, {i.link_id: 3 for i in lforms.scored_items}, link="plain")
    scored = score_questionnaire_response(qr, lforms)
    assert (scored.result.total, scored.result.band, scored.result.flags) == (
        27, "severe", ["risk:item9"],
    )  # fmt: skip


def test_it_imports_the_researchkit_gad7_from_its_contained_value_set():
    gad7 = instrument_from_questionnaire(fixture("researchkitonfhir__GAD-7.json"))
    # No LOINC codes in this file, so it is a custom instrument, summed, without bands.
    assert gad7.id == "gad-7"
    assert gad7.bands == ()
    assert gad7.validated is None
    assert len(gad7.scored_items) == 7
    assert [o.code for o in gad7.scored_items[0].options] == [
        "Not-at-all", "Several-days", "More than half the days", "Nearly every day",
    ]  # fmt: skip
    assert all(i.scores == frozenset({0, 1, 2, 3}) for i in gad7.scored_items)
    assert gad7.preamble.startswith("How often have you been bothered")


def test_it_scores_a_researchkit_style_response_like_the_shipped_gad7():
    custom = instrument_from_questionnaire(fixture("researchkitonfhir__GAD-7.json"))
    values = [3, 2, 2, 1, 1, 0, 3]
    answers = dict(zip([i.link_id for i in custom.scored_items], values, strict=True))
    qr = response(custom, answers, link="plain", nested=True, questionnaire=custom.url)
    scored = score_questionnaire_response(qr, candidates=[custom])
    shipped = score(load_instrument("gad7"), {f"item{n}": v for n, v in enumerate(values, 1)})
    assert scored.result.total == shipped.total == 12
    assert scored.identified_by == "questionnaire"
