"""`radflag annotate --format fhir`: one valid FHIR Bundle per report, for every input kind."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import nlp
from tests.fhir_check import validate_bundle
from tests.hl7.messages import wrap_mdm, wrap_oru
from worker.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KNEE = (
    "MRI RIGHT KNEE\n\nFindings:\nBone marrow edema in the medial femoral condyle with a "
    "subchondral insufficiency fracture.\n\nImpression:\nSubchondral insufficiency fracture."
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, ["annotate", "--format", "fhir", *args], env=env)
    bundles = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, bundles, result.stderr


def kinds(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["resourceType"] for e in bundle["entry"]]


def report_of(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "DiagnosticReport")  # fmt: skip


def test_hl7_file_gives_one_bundle_per_message(tmp_path: Path) -> None:
    path = tmp_path / "two.hl7"
    path.write_bytes(
        wrap_oru(KNEE, "MRI KNEE RIGHT", "lines", "C1", accession="A-1")
        + wrap_mdm("Knochenmarködem im Femurkopf links.", "C2", document_number="D-2")
    )
    code, bundles, _ = run(str(path))
    assert code == 0 and len(bundles) == 2
    for bundle in bundles:
        validate_bundle(bundle)
        assert "Patient" in kinds(bundle) and "ServiceRequest" in kinds(bundle)
    english, german = (report_of(b) for b in bundles)
    assert english["identifier"][0]["value"] == "A-1"
    assert german["identifier"][0]["value"] == "D-2"
    assert german["presentedForm"][0]["language"] == "de"
    text = base64.b64decode(english["presentedForm"][0]["data"]).decode()
    assert nlp.annotate(text, procedure="MRI KNEE RIGHT").bme == "present"


def test_hl7_on_stdin_gives_the_bundles_of_the_hl7_file() -> None:
    """`-` with HL7 on standard input reads it as messages: patient, order, accession."""
    data = wrap_oru(KNEE, "MRI KNEE RIGHT", "lines", "C1", accession="A-1")
    result = CliRunner().invoke(main, ["annotate", "--format", "fhir", "-"], input=data)
    assert result.exit_code == 0
    [bundle] = [json.loads(line) for line in result.stdout.splitlines()]
    validate_bundle(bundle)
    assert "Patient" in kinds(bundle) and "ServiceRequest" in kinds(bundle)
    assert report_of(bundle)["identifier"][0]["value"] == "A-1"


def test_text_and_jsonl_reports_have_no_patient(tmp_path: Path) -> None:
    code, bundles, _ = run(str(FIXTURES / "reports" / "knee-left.txt"))
    assert code == 0
    [bundle] = bundles
    validate_bundle(bundle)
    assert "Patient" not in kinds(bundle) and "ServiceRequest" not in kinds(bundle)
    assert report_of(bundle)["identifier"][0]["value"] == "knee-left"
    assert report_of(bundle)["status"] == "unknown"
    jsonl = FIXTURES / "reports" / "reports.jsonl"
    code, bundles, _ = run(str(jsonl))
    lines = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    assert code == 0 and len(bundles) == len(lines)
    for bundle, line in zip(bundles, lines, strict=True):
        validate_bundle(bundle)
        assert report_of(bundle)["identifier"][0]["value"] == line["id"]


def test_pretty_output_is_one_indented_bundle() -> None:
    path = str(FIXTURES / "reports" / "knee-left.txt")
    result = CliRunner().invoke(main, ["annotate", "--format", "fhir", "--pretty", path])
    assert result.exit_code == 0 and result.stdout.startswith("{\n  ")
    validate_bundle(json.loads(result.stdout))


def test_patient_flag_setting_adds_the_banner(tmp_path: Path) -> None:
    path = tmp_path / "one.hl7"
    path.write_bytes(wrap_oru(KNEE, "MRI KNEE RIGHT", "lines", "C1"))
    env = {"RADFLAG_FHIR_FLAG": "true", "RADFLAG_FHIR_IDENTIFIER_SYSTEM": "urn:oid:1.2.3"}
    code, [bundle], _ = run(str(path), env=env)
    assert code == 0
    validate_bundle(bundle)
    assert "Flag" in kinds(bundle)
    assert report_of(bundle)["identifier"][0]["system"] == "urn:oid:1.2.3:accession"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": "x", "text": "ok"}\nnot json\n', "bad.jsonl:2: not JSON"),
        ("bad.hl7", "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|||2.5.1\r", "not annotated"),
        ("report.pdf", "x", "unsupported file type"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    code, bundles, stderr = run(str(path))
    assert code == 2 and bundles == []
    assert message in stderr and len(stderr.strip().splitlines()) == 1


def test_bad_fhir_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, stderr = run(str(FIXTURES / "reports" / "knee-left.txt"),
                          env={"RADFLAG_FHIR_TOKEN": "t"})  # fmt: skip
    assert code == 2 and "fhir_url" in stderr
