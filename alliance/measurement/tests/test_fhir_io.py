"""FHIR export, import of weights from every place other systems put them, and Observations."""

import copy
from typing import Any

import pytest

from alliance.measurement import (
    AnswerOutOfRangeError,
    UnknownInstrumentError,
    load_instrument,
    score,
    shipped_instruments,
)
from alliance.measurement.fhir import (
    FhirInputError,
    instrument_from_questionnaire,
    observation_for_total,
    observations_for_items,
    questionnaire_from_instrument,
    score_questionnaire_response,
    validate_r4,
)
from alliance.measurement.fhir.common import ORDINAL_VALUE

from .helpers import response

ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"


def custom_questionnaire(options_for_item):
    return {
        "resourceType": "Questionnaire",
        "id": "clinic-wellbeing",
        "url": "https://clinic.example/Questionnaire/wellbeing",
        "status": "active",
        "item": [
            {"linkId": f"w{n}", "type": "choice", "text": f"question {n}", **options_for_item}
            for n in (1, 2, 3)
        ],
    }


def coded_options(weight_url, where="option"):
    options: list[dict[str, Any]] = []
    for code, weight in (("never", 0), ("sometimes", 2), ("always", 4)):
        extension = [{"url": weight_url, "valueDecimal": weight}]
        coding: dict[str, Any] = {
            "system": "https://clinic.example/cs",
            "code": code,
            "display": code,
        }
        if where == "coding":
            coding["extension"] = extension
            options.append({"valueCoding": coding})
        else:
            options.append({"valueCoding": coding, "extension": extension})
    return {"answerOption": options}


def value_set(weight_url):
    return {
        "resourceType": "ValueSet",
        "id": "freq",
        "url": "https://clinic.example/ValueSet/freq",
        "status": "active",
        "compose": {
            "include": [
                {
                    "system": "https://clinic.example/cs",
                    "concept": [
                        {
                            "code": c,
                            "display": c,
                            "extension": [{"url": weight_url, "valueInteger": w}],
                        }
                        for c, w in (("never", 0), ("sometimes", 2), ("always", 4))
                    ],
                }
            ]
        },
    }


def clinic_response(codes, system=True):
    items = []
    for n, code in enumerate(codes, 1):
        coding = {"code": code}
        if system:
            coding["system"] = "https://clinic.example/cs"
        items.append({"linkId": f"w{n}", "answer": [{"valueCoding": coding}]})
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": items}


@pytest.mark.parametrize("instrument", shipped_instruments(), ids=lambda i: i.id)
def test_it_exports_valid_r4_questionnaires_with_loinc_codes_and_ordinal_values(instrument):
    q = questionnaire_from_instrument(instrument)
    validate_r4(q)
    assert q["url"] == instrument.url
    assert q["version"] == instrument.version
    questions = q["item"][0]["item"]
    assert [x["linkId"] for x in questions] == [i.link_id for i in instrument.items]
    for question, item in zip(questions, instrument.items, strict=True):
        if item.loinc:
            assert question["code"][0] == {
                "system": "http://loinc.org", "code": item.loinc, "display": item.text,
            }  # fmt: skip
        weights = [
            o.get("extension", [{}])[0].get("valueDecimal") for o in question["answerOption"]
        ]
        assert weights == ([o.score for o in item.options] if item.scored else [None] * 4)
    assert "Pfizer" in q["copyright"] or "not a validated instrument" in q["title"]


@pytest.mark.parametrize(
    ("options", "value_sets"),
    [
        (coded_options(ORDINAL_VALUE), None),
        (coded_options(ITEM_WEIGHT), None),
        (coded_options(ORDINAL_VALUE, where="coding"), None),
        ({"answerValueSet": "https://clinic.example/ValueSet/freq|1.0"}, "referenced"),
    ],
    ids=["ordinalValue", "itemWeight", "weight-on-coding", "referenced-value-set"],
)
def test_it_imports_weights_from_wherever_a_questionnaire_keeps_them(options, value_sets):
    supplied = {"https://clinic.example/ValueSet/freq": value_set(ITEM_WEIGHT)}
    custom = instrument_from_questionnaire(
        custom_questionnaire(options), supplied if value_sets else None
    )
    assert custom.id == "clinic-wellbeing"
    assert custom.max_total == 12
    scored = score_questionnaire_response(clinic_response(["always", "sometimes", "never"]), custom)
    assert (scored.result.total, scored.result.band) == (6, None)


def test_it_imports_a_contained_value_set():
    q = custom_questionnaire({"answerValueSet": "#freq"})
    q["contained"] = [value_set(ORDINAL_VALUE)]
    custom = instrument_from_questionnaire(q)
    scored = score_questionnaire_response(clinic_response(["always"] * 3, system=False), custom)
    assert scored.result.total == 12


def test_it_refuses_a_questionnaire_without_weights():
    q = custom_questionnaire({"answerOption": [{"valueCoding": {"code": "a"}}]})
    with pytest.raises(FhirInputError, match="no item has weighted answers"):
        instrument_from_questionnaire(q)


def test_it_refuses_a_value_set_it_was_not_given():
    q = custom_questionnaire({"answerValueSet": "https://elsewhere.example/ValueSet/x"})
    with pytest.raises(FhirInputError, match="neither contained nor supplied"):
        instrument_from_questionnaire(q)


def test_it_refuses_fractional_weights():
    q = custom_questionnaire(coded_options(ORDINAL_VALUE))
    q["item"][0]["answerOption"][1]["extension"][0]["valueDecimal"] = 1.5
    with pytest.raises(FhirInputError, match="whole number"):
        instrument_from_questionnaire(q)


def test_it_does_not_treat_a_custom_questionnaire_named_phq9_as_ours():
    q = custom_questionnaire(coded_options(ORDINAL_VALUE))
    q["id"] = "phq9"
    assert instrument_from_questionnaire(q).id == "imported-phq9"


@pytest.mark.parametrize("style", ["coding", "nosystem", "integer", "decimal"])
def test_it_scores_gad7_answers_in_every_answer_style(style):
    gad7 = load_instrument("gad7")
    answers = {f"item{n}": v for n, v in enumerate([3, 3, 2, 2, 1, 1, 0], 1)}
    scored = score_questionnaire_response(response(gad7, answers, style=style, nested=True))
    assert (scored.instrument.id, scored.result.total, scored.result.band) == (
        "gad7", 12, "moderate",
    )  # fmt: skip


def test_it_reads_a_phq2_response_as_phq2_and_a_full_phq9_as_phq9():
    phq9 = load_instrument("phq9")
    two = score_questionnaire_response(response(phq9, {"item1": 2, "item2": 1}))
    assert (two.instrument.id, two.result.total, two.result.band_code) == (
        "phq2", 3, "positive-screen",
    )  # fmt: skip
    # A PHQ-9 total code tells us the two items come from an incomplete PHQ-9.
    partial = score_questionnaire_response(response(phq9, {"item1": 2, "item2": 1}, stored_total=3))
    assert partial.instrument.id == "phq9"
    assert partial.result.total is None
    assert partial.stored_total_matches is False


def test_it_matches_our_own_exported_questionnaire_by_url():
    session = load_instrument("alliance-session-check")
    answers = {"heard": 8, "goals": 6, "approach": 9, "overall": 7}
    qr = response(session, answers, link="plain", questionnaire=f"{session.url}|1.0.0")
    scored = score_questionnaire_response(qr)
    assert (scored.instrument.id, scored.result.total, scored.identified_by) == (
        "alliance-session-check", 30, "questionnaire",
    )  # fmt: skip


def test_it_reports_a_stored_string_total_as_a_number_it_checked():
    phq9 = load_instrument("phq9")
    answers = {f"item{n}": 1 for n in range(1, 10)}
    scored = score_questionnaire_response(response(phq9, answers, stored_total="9"))
    assert (scored.stored_total, scored.stored_total_matches) == (9, True)
    scored = score_questionnaire_response(response(phq9, answers, stored_total="nine"))
    assert (scored.stored_total, scored.stored_total_matches) == ("nine", False)


def test_it_refuses_an_answer_code_that_is_not_an_option():
    qr = response(load_instrument("phq9"), {"item1": 1})
    qr["item"][0]["answer"][0]["valueCoding"]["code"] = "LA6572-7"
    with pytest.raises(AnswerOutOfRangeError, match="LA6572-7"):
        score_questionnaire_response(qr)


def test_it_refuses_an_integer_answer_out_of_range():
    qr = response(load_instrument("gad7"), {"item1": 1}, style="integer")
    qr["item"][0]["answer"][0]["valueInteger"] = 7
    with pytest.raises(AnswerOutOfRangeError, match="answer 7 is not one of 0, 1, 2, 3"):
        score_questionnaire_response(qr)


def test_it_refuses_a_coding_whose_system_disagrees():
    qr = response(load_instrument("gad7"), {"item1": 1})
    qr["item"][0]["answer"][0]["valueCoding"]["system"] = "http://snomed.info/sct"
    with pytest.raises(AnswerOutOfRangeError):
        score_questionnaire_response(qr)


def test_it_refuses_two_answers_to_one_question():
    qr = response(load_instrument("gad7"), {"item1": 1})
    qr["item"][0]["answer"].append(copy.deepcopy(qr["item"][0]["answer"][0]))
    with pytest.raises(FhirInputError, match="2 answers"):
        score_questionnaire_response(qr)


def test_it_cannot_identify_a_response_with_no_known_codes():
    qr = {"resourceType": "QuestionnaireResponse", "status": "completed",
          "item": [{"linkId": "x", "answer": [{"valueInteger": 1}]}]}  # fmt: skip
    with pytest.raises(UnknownInstrumentError, match="unknown instrument"):
        score_questionnaire_response(qr)


def test_it_lists_answered_items_it_did_not_recognise():
    phq9 = load_instrument("phq9")
    qr = response(phq9, {f"item{n}": 0 for n in range(1, 10)})
    qr["item"].append({"linkId": "comment", "answer": [{"valueString": "fine"}]})
    assert score_questionnaire_response(qr).unmatched_link_ids == ["comment"]


def test_it_emits_a_valid_total_observation_with_loinc_code_and_band():
    phq9 = load_instrument("phq9")
    result = score(phq9, {f"item{n}": 2 for n in range(1, 10)})
    observation = observation_for_total(
        result,
        phq9,
        subject="Patient/1",
        effective="2025-01-02",
        derived_from="QuestionnaireResponse/9",
    )
    validate_r4(observation)
    assert observation["code"]["coding"][0]["code"] == "44261-6"
    assert observation["valueInteger"] == 18
    assert observation["interpretation"] == [{"text": "moderately severe"}]
    assert observation["derivedFrom"] == [{"reference": "QuestionnaireResponse/9"}]


def test_it_emits_no_value_but_a_reason_for_an_incomplete_total():
    gad7 = load_instrument("gad7")
    observation = observation_for_total(score(gad7, {"item1": 1}), gad7)
    assert "valueInteger" not in observation
    assert observation["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "6 of 7 scored items unanswered" in observation["note"][0]["text"]


def test_it_emits_item_observations_on_request():
    phq9 = load_instrument("phq9")
    result = score(phq9, {f"item{n}": 1 for n in range(1, 10)} | {"difficulty": 2})
    observations = observations_for_items(result, phq9)
    assert len(observations) == 10
    item9 = observations[8]
    assert item9["code"]["coding"][0]["code"] == "44260-8"
    assert item9["valueCodeableConcept"]["coding"][0]["code"] == "LA6569-3"
    assert observations[9]["valueCodeableConcept"]["coding"][0]["code"] == "LA6575-0"


def test_it_codes_observations_of_our_own_measures_in_our_code_system():
    goal = load_instrument("alliance-goal-progress")
    observation = observation_for_total(score(goal, {"progress": 4}), goal)
    assert observation["code"]["coding"][0]["code"] == "alliance-goal-progress/total"
    assert observation["valueInteger"] == 4
