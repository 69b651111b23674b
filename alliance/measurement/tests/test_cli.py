"""``alliance score``: one JSON line per good file, one stderr line per bad file, exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alliance.measurement import load_instrument
from alliance.measurement.cli import main
from alliance.measurement.fhir import questionnaire_from_instrument

from .helpers import FIXTURES, response

USCORE_QR = FIXTURES / "uscore__QuestionnaireResponse-phq-9-example.json"
USCORE_OBS = FIXTURES / "uscore__Observation-PHQ9-item-example-44261-6.json"
RESEARCHKIT_Q = FIXTURES / "researchkitonfhir__GAD-7.json"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    return code, lines, captured.err.splitlines()


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_it_scores_every_fixture_file(capsys):
    code, lines, errors = run(capsys, *sorted(FIXTURES.glob("*.json")))
    assert (code, errors) == (0, [])
    by_file = {Path(line["file"]).name: line for line in lines}
    assert len(by_file) == 5
    qr = by_file[USCORE_QR.name]
    assert (qr["instrument"], qr["total"], qr["band"], qr["complete"], qr["flags"]) == (
        "phq9", 12, "moderate", True, [],
    )  # fmt: skip
    assert list(qr["items"].values()) == [2, 2, 2, 2, 1, 1, 2, 0, 0]
    assert (qr["stored_total"], qr["stored_total_matches"]) == (12, True)
    # The Observation stores "12" as a string; it is checked against the response's items.
    obs = by_file[USCORE_OBS.name]
    assert (obs["total"], obs["stored_total"], obs["stored_total_matches"]) == (12, 12, True)
    for name in ("lforms__phq9.json", "uscore__Questionnaire-phq-9-example.json"):
        assert by_file[name]["instrument"] == "phq9"
        assert by_file[name]["total"] is None
    assert by_file[RESEARCHKIT_Q.name]["instrument"] == "gad-7"


def test_it_says_an_observation_alone_cannot_be_checked(capsys):
    code, [line], _ = run(capsys, USCORE_OBS)
    assert code == 0
    assert (line["total"], line["stored_total"], line["stored_total_matches"]) == (None, 12, None)
    assert "QuestionnaireResponse/phq-9-example" in line["incomplete_reason"]


def test_it_prints_at_least_the_promised_fields(capsys):
    _, [line], _ = run(capsys, USCORE_QR)
    promised = {"file", "instrument", "total", "band", "complete", "flags", "items",
                "stored_total", "stored_total_matches"}  # fmt: skip
    assert promised <= line.keys()


def test_it_flags_item9_from_a_response_built_elsewhere(tmp_path, capsys):
    phq9 = load_instrument("phq9")
    answers = {f"item{n}": 0 for n in range(1, 9)} | {"item9": 2}
    path = write(tmp_path, "risk.json", response(phq9, answers, style="nosystem", nested=True))
    code, [line], _ = run(capsys, path)
    assert (code, line["total"], line["band"], line["flags"]) == (0, 2, "minimal", ["risk:item9"])


def test_it_scores_against_an_imported_questionnaire(tmp_path, capsys):
    from alliance.measurement.fhir import instrument_from_questionnaire

    custom = instrument_from_questionnaire(json.loads(RESEARCHKIT_Q.read_text()))
    answers = {item.link_id: 2 for item in custom.scored_items}
    path = write(tmp_path, "rk.json", response(custom, answers, link="plain"))
    code, [line], errors = run(capsys, path, "--questionnaire", RESEARCHKIT_Q)
    assert (code, errors) == (0, [])
    assert (line["instrument"], line["total"], line["complete"]) == ("gad-7", 14, True)


def test_it_uses_a_questionnaire_given_in_the_same_batch(tmp_path, capsys):
    gad7_export = questionnaire_from_instrument(load_instrument("gad7"))
    gad7_export["url"] = "https://clinic.example/gad7"
    q_path = write(tmp_path, "q.json", gad7_export)
    answers = {f"item{n}": 1 for n in range(1, 8)}
    qr = response(load_instrument("gad7"), answers, link="plain", questionnaire=gad7_export["url"])
    code, lines, _ = run(capsys, q_path, write(tmp_path, "qr.json", qr))
    assert code == 0
    assert (lines[1]["identified_by"], lines[1]["total"], lines[1]["band"]) == (
        "questionnaire", 7, "mild",
    )  # fmt: skip


def test_it_adds_validated_observations_on_request(capsys):
    _, [line], _ = run(capsys, USCORE_QR, "--items")
    observations = line["observations"]
    assert observations[0]["valueInteger"] == 12
    assert len(observations) == 11  # the total, nine items and the difficulty question
    _, [line], _ = run(capsys, USCORE_QR, "--observations")
    assert len(line["observations"]) == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON (line 1, column 2)"),
        ('{"hello": "world"}', "not a FHIR resource (no resourceType)"),
        ("[1, 2]", "not a FHIR resource (no resourceType)"),
        (
            '{"resourceType": "Patient"}',
            "resourceType Patient cannot be scored "
            "(expected QuestionnaireResponse, Observation or Questionnaire)",
        ),
    ],
)
def test_it_reports_a_bad_file_on_one_line_and_scores_the_rest(tmp_path, capsys, content, problem):
    bad = write(tmp_path, "bad.json", content)
    code, lines, errors = run(capsys, bad, USCORE_QR)
    assert code == 2
    assert [Path(line["file"]).name for line in lines] == [USCORE_QR.name]
    assert errors == [f"alliance score: {bad}: {problem}"]


def test_it_reports_malformed_fhir_on_one_line_without_a_traceback(tmp_path, capsys):
    observation = {"resourceType": "Observation", "status": "final", "code": "44261-6"}
    qr = {"resourceType": "QuestionnaireResponse", "questionnaire": "urn:x\nk10", "item": []}
    paths = [write(tmp_path, "o.json", observation), write(tmp_path, "qr.json", qr)]
    code, lines, errors = run(capsys, *paths, USCORE_QR)
    assert code == 2
    assert len(lines) == 1
    assert errors[0].startswith(f"alliance score: {paths[0]}: malformed FHIR (AttributeError")
    assert errors[1].startswith(
        f"alliance score: {paths[1]}: unknown instrument: questionnaire urn:x k10"
    )
    assert len(errors) == 2


def test_it_reports_an_unknown_instrument(tmp_path, capsys):
    qr = {"resourceType": "QuestionnaireResponse", "status": "completed",
          "questionnaire": "https://elsewhere.example/Questionnaire/k10",
          "item": [{"linkId": "1", "answer": [{"valueInteger": 3}]}]}  # fmt: skip
    path = write(tmp_path, "k10.json", qr)
    code, lines, [error] = run(capsys, path, USCORE_QR)
    assert code == 2
    assert len(lines) == 1
    assert error.startswith(f"alliance score: {path}: unknown instrument")
    assert "k10" in error


def test_it_reports_an_answer_out_of_range(tmp_path, capsys):
    qr = response(load_instrument("gad7"), {f"item{n}": 1 for n in range(1, 8)}, style="integer")
    qr["item"][3]["answer"][0]["valueInteger"] = 9
    path = write(tmp_path, "range.json", qr)
    code, lines, [error] = run(capsys, USCORE_QR, path)
    assert code == 2
    assert len(lines) == 1
    assert error == (
        f"alliance score: {path}: gad7 item4 (linkId /69734-2): answer 9 is not one of 0, 1, 2, 3"
    )


def test_it_reports_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    code, lines, errors = run(capsys, missing, USCORE_QR)
    assert code == 2
    assert len(lines) == 1
    assert errors == [f"alliance score: {missing}: cannot read file (FileNotFoundError)"]


def test_it_stops_when_the_questionnaire_option_is_unusable(tmp_path, capsys):
    bad_q = write(tmp_path, "q.json", '{"resourceType": "Questionnaire", "status": "draft"}')
    code, lines, errors = run(capsys, USCORE_QR, "--questionnaire", bad_q)
    assert (code, lines) == (2, [])
    assert errors == [f"alliance score: {bad_q}: no item has weighted answers "
                      "(ordinalValue/itemWeight); cannot score"]  # fmt: skip


def test_it_exits_2_on_a_usage_error(capsys):
    assert main([]) == 2
    assert main(["--no-such-flag", str(USCORE_QR)]) == 2
    assert "usage: alliance score" in capsys.readouterr().err


def test_it_runs_as_a_module_without_django():
    root = Path(__file__).resolve().parents[3]
    code = (
        "import sys; from alliance.measurement.cli import main; rc = main(sys.argv[1:]);"
        "assert 'django' not in sys.modules; sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(USCORE_QR)],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 12
