"""hl7.extract: every sample and fixture read, or refused with the right reason."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hl7.errors import (
    InboundMessageError,
    NoReportText,
    RequiredFieldMissing,
    SegmentSequenceError,
    UnsupportedMessageType,
)
from hl7.extract import extract_report
from tests.conftest import SHARED
from tests.hl7.golden import FIXTURES, fixture
from tests.hl7.messages import wrap_oru
from tests.hl7.strategies import report_texts

SAMPLES = SHARED / "samples" / "hl7" / "public"

# Outcome per public sample: the error it is refused with, or what the report holds.
SAMPLE_OUTCOMES: dict[str, dict[str, Any]] = {
    "dcm4che_v231_oru_radlex_actionable_findings.hl7": {
        "accession": "B601Z",
        "patient_id": "P33",
        "sections": (),
        "contains": [
            "small mass in the left lung",
            "Malignant neoplasm of left renal pelvis",
            "Follow-up with CT of the Abdomen",
        ],
        "absent": ["1.113654.1.2001.30.2.2"],
    },
    "dcm4che_v251_oru_ed_pdf.hl7": {"error": NoReportText, "code": 200, "says": "encapsulated"},
    "dcm4che_v251_oru_sr_8859-1.hl7": {
        "accession": "FillerOrderNumberImagingServiceRequest",
        "procedure": "Microscopic Observation",
        "contains": ["The right kidney is slightly enlarged"],
        "absent": ["PatientComments", "1.2.392"],
    },
    "hapi_v23_oru_nte_escape_F_br.hl7": {
        "procedure": "CHOLESTEROL (SERUM)",
        "contains": ["Lipid - Target Levels for Treatment", "|  Risk   |", "Lab STP"],
        "absent": ["\\F\\", "\\.br\\"],
    },
    "hapi_v24_oru_ft_escape_H_N_S_br.hl7": {
        "procedure": "GASES (BLOOD)",
        "contains": ["pH :  7.28 (7.38-7.43) *", "\n Analysis Date"],
        "absent": ["\\H\\", "\\N\\", "\\.br\\"],
    },
    "hl7v2tofhir_v251_mdm_t02_txa_ft_br.hl7": {
        "accession": "432344432",
        "sections": ("", "findings"),
        "contains": ["Critical Values Entered On", "FINDINGS:\nTable formatting from the original"],
        "absent": ["Base64"],
    },
    "linuxforhealth_v26_oru_tx_empty_obx3.hl7": {
        "accession": "FON_0d70c6c8",
        "procedure": "ECHO CARDIOGRAM COMPLETE",
        "contains": ["[PII] Emergency Department"],
        "absent": ["Created for MRN"],
    },
    "mirth_v24_oru_lab_msh15_AL_msh16_NE.hl7": {
        "error": UnsupportedMessageType,
        "code": 200,
        "says": "lab panel",
    },
    "scout_v23_oru_mri_brain_ft_gdt_imp.hl7": {
        "accession": "620943156",
        "procedure": "MRI BRAIN WO CONTRAST",
        "sections": ("findings", "impression"),
        "contains": ["FINDINGS:\nMultiplanar brain MRI", "IMPRESSION:\nUnremarkable brain MRI"],
    },
    "scout_v24_oru_mri_brain_tx_repetitions.hl7": {
        "accession": "7795083283",
        "procedure": "2361 MRI BRAIN W CONTRAST",
        "contains": ["FINDINGS:\nThe brain MRI from July 11, 1994"],
        "absent": ["~"],
    },
    "scout_v24_oru_us_abdomen_iso8859-1_tx_repetitions.hl7": {
        "procedure": "US ABDOMEN LIMITED",
        "contains": ["special chars: ±60%÷", "cholelithiasis"],
    },
    "scout_v27_oru_mr_head_addendum_adt_zds.hl7": {
        "accession": "620943177",
        "procedure": "70553P MR HEAD PERFUSION WWO",
        "sections": ("addendum", "findings", "impression"),
        "contains": ["ADDENDUM: Amendment to impression", "IMPRESSION:\nMild diffuse"],
        "absent": ["2.25.294907481242086090937208324724781073257"],
    },
    "simhospital_v23_mdm_t02_txa.hl7": {
        "accession": "8CZ5WWM0QGQMA",
        "procedure": None,
        "contains": ["Dungeon\nSmile store"],
    },
    "simhospital_v23_oru_mri_ankle_ft_nte.hl7": {
        "accession": "2765717671",
        "procedure": "MRI Ankle Lt",
        "contains": ["MRI Ankle Lt value\nMind chin outback\nMANKL value"],
    },
}

FIXTURE_OUTCOMES: dict[str, dict[str, Any]] = {
    "adt_v25_a01.hl7": {"error": UnsupportedMessageType, "code": 200, "says": "ADT^A01"},
    "not_hl7.txt": {"error": SegmentSequenceError, "code": 100, "says": "MSH"},
    "oru_v23_missing_control_id.hl7": {
        "error": RequiredFieldMissing,
        "code": 101,
        "says": "MSH-10",
    },
    "oru_v24_lab_panel.hl7": {"error": UnsupportedMessageType, "code": 200, "says": "lab panel"},
    "oru_v251_ed_pdf_only.hl7": {"error": NoReportText, "code": 200, "says": "encapsulated"},
    "mdm_v24_t04_utf8_de.hl7": {
        "accession": "DOC3003",
        "procedure": None,
        "patient_language": "DE",
        "contains": ["MRT HÜFTE LINKS\nBefund: Ausgedehntes Knochenmarködem"],
    },
    "oru_v23_ft_escapes_crlf.hl7": {
        "text": "MRI LEFT ANKLE\n\nFindings:\nTalar dome: marrow edema 8 mm | grade 2^3.\n"
        "Tibia & fibula intact ~ no fracture. Path C:\\reports\\.\nHex: OK.",
    },
    "oru_v251_knee_sections.hl7": {
        "accession": "ACC1001",
        "procedure": "MRI KNEE RIGHT WO CONTRAST",
        "patient_id": "MRN1001",
        "sections": ("findings", "impression"),
        "contains": [
            "Findings:\nThere is moderate bone marrow edema",
            "\nImpression:\n1. Complete",
        ],
    },
    "oru_v25_lf_quirks.hl7": {
        # `""` OBR-3 falls back to OBR-18; NTE under PID, a W (wrong) OBX and a DICOM
        # UID are left out.
        "text": "Clinical note: hip pain.\nMRI LEFT HIP\n"
        "Findings: Subchondral bone marrow edema in the femoral head.\n"
        "Femoral head bone marrow edema",
        "accession": "ACC9009",
        "procedure": "MRI HIP LEFT",
    },
    "oru_v27_latin1_undeclared.hl7": {
        "text": "Kein Knochenmarködem, Größe normal.",
        "procedure": "MRT Wirbelsäule",
    },
}


def check_outcome(message: bytes, outcome: dict[str, Any]) -> None:
    if "error" in outcome:
        with pytest.raises(outcome["error"]) as caught:
            extract_report(message)
        assert caught.value.hl7_error_code == outcome["code"]
        assert outcome["says"] in str(caught.value)
        return
    report = extract_report(message)
    for key in ("accession", "procedure", "patient_id", "patient_language", "text"):
        if key in outcome:
            assert getattr(report, key) == outcome[key], key
    if "sections" in outcome:
        assert tuple(s.name for s in report.sections) == outcome["sections"]
    for snippet in outcome.get("contains", []):
        assert snippet in report.text
    for snippet in outcome.get("absent", []):
        assert snippet not in report.text
    for section in report.sections:
        assert 0 <= section.start <= section.end <= len(report.text)
    assert report.control_id and report.text.strip()


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SAMPLE_OUTCOMES))
def test_public_sample(name: str) -> None:
    """Each public sample is read with the expected content or refused with the expected error."""
    check_outcome((SAMPLES / name).read_bytes(), SAMPLE_OUTCOMES[name])


@pytest.mark.shared
def test_every_public_sample_has_an_outcome() -> None:
    """No sample in the shared directory goes untested."""
    assert {p.name for p in SAMPLES.glob("*.hl7")} == set(SAMPLE_OUTCOMES)


@pytest.mark.parametrize("name", sorted(FIXTURE_OUTCOMES))
def test_fixture(name: str) -> None:
    """Each synthetic fixture is read or refused as expected."""
    check_outcome(fixture(name), FIXTURE_OUTCOMES[name])


def test_every_fixture_has_an_outcome() -> None:
    """No fixture message goes untested."""
    names = {p.name for p in Path(FIXTURES).iterdir() if p.is_file()}
    assert names == set(FIXTURE_OUTCOMES)


def test_section_offsets_cover_their_text() -> None:
    """Section spans index the report text: findings first, impression from its header."""
    report = extract_report(fixture("oru_v251_knee_sections.hl7"))
    findings, impression = report.sections
    assert report.text[findings.start : findings.end].startswith("MRI RIGHT KNEE")
    assert report.text[impression.start : impression.end].startswith("Impression:")
    assert impression.end == len(report.text)


def test_header_inserted_only_where_a_suffixed_run_has_none() -> None:
    """&IMP lines without an impression header get "IMPRESSION:"; runs with one are left alone."""
    message = wrap_oru("Findings:\nNo edema.\nNormal knee.", "MRI KNEE", style="lines")
    message = message.replace(b"OBX|3|TX|RPT^", b"OBX|3|TX|RPT&IMP^").replace(
        b"|RPT^", b"|RPT&GDT^"
    )
    report = extract_report(message)
    assert report.text == "Findings:\nNo edema.\nIMPRESSION:\nNormal knee."
    assert [(s.name, report.text[s.start : s.end]) for s in report.sections] == [
        ("findings", "Findings:\nNo edema."),
        ("impression", "IMPRESSION:\nNormal knee."),
    ]


def test_addendum_suffix_without_header() -> None:
    """An &ADT run without its own header gets "ADDENDUM:"."""
    message = wrap_oru("Impression: normal.\nEdema was missed.", None)
    message = message.replace(b"OBX|1|TX|RPT^", b"OBX|1|TX|RPT&IMP^").replace(
        b"OBX|2|TX|RPT^", b"OBX|2|TX|RPT&ADT^"
    )
    assert extract_report(message).text == "Impression: normal.\nADDENDUM:\nEdema was missed."


@pytest.mark.parametrize(("msh9", "says"), [(b"ORU^R30", b"ORU^R30"), (b"MDM^T01", b"MDM^T01")])
def test_unsupported_trigger_is_201(msh9: bytes, says: bytes) -> None:
    """ORU and MDM with a trigger that carries no report are refused with code 201."""
    message = wrap_oru("text", None).replace(b"ORU^R01^ORU_R01", msh9)
    with pytest.raises(UnsupportedMessageType) as caught:
        extract_report(message)
    assert caught.value.hl7_error_code == 201 and says.decode() in str(caught.value)


def test_mdm_t04_and_unsupported_version() -> None:
    """MDM^T04 reads like T02; version 2.2 is refused with 203."""
    assert extract_report(fixture("mdm_v24_t04_utf8_de.hl7")).header.trigger_event == "T04"
    with pytest.raises(InboundMessageError) as caught:
        extract_report(wrap_oru("text", None, version="2.2"))
    assert caught.value.hl7_error_code == 203


def test_message_without_any_obx() -> None:
    """An ORU without OBX or NTE text is refused with NoReportText."""
    message = b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|C1|P|2.5\rPID|1\rOBR|1||ACC\r"
    with pytest.raises(NoReportText):
        extract_report(message)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_inbound_errors(noise: bytes) -> None:
    """Any bytes, even after a valid MSH, give a Report or an InboundMessageError, never a crash."""
    for message in (noise, b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|C1|P|2.5\r" + noise):
        with contextlib.suppress(InboundMessageError):
            extract_report(message)


def test_prose_starting_with_a_section_word_is_no_header() -> None:
    """ "Impression is ..." does not count as a header; "IMPRESSION" alone on its line does."""
    message = wrap_oru("Impression is of edema.\nIMPRESSION\nEdema.", None)
    only_prose = message.replace(b"OBX|1|TX|RPT^", b"OBX|1|TX|RPT&IMP^")
    only_prose = only_prose.replace(b"OBX|2|TX|RPT^", b"OBX|2|TX|RPT&GDT^")
    only_prose = only_prose.replace(b"OBX|3|TX|RPT^", b"OBX|3|TX|RPT&GDT^")
    assert extract_report(only_prose).text.startswith(
        "IMPRESSION:\nImpression is of edema.\nFINDINGS:"
    )
    with_header = message.replace(b"|RPT^", b"|RPT&IMP^")
    assert extract_report(with_header).text == "Impression is of edema.\nIMPRESSION\nEdema."


@settings(max_examples=150, deadline=None)
@given(text=report_texts, style=st.sampled_from(["lines", "ft", "repetitions"]))
def test_any_text_round_trips(text: str, style: str) -> None:
    """Any report text, one line per OBX, as one FT or as repetitions, reads back exactly."""
    report = extract_report(wrap_oru(text, "MRI | KNEE ^ LEFT", style))
    assert (report.text, report.procedure) == (text, "MRI | KNEE ^ LEFT")
