"""hl7.result: the outbound ORU^R01, exact bytes and every field the spec names."""

from __future__ import annotations

import base64
import json

import pytest
from hl7apy.core import Message
from hl7apy.parser import parse_message

from hl7.extract import extract_report
from hl7.result import build_result
from hl7.segments import split_segments
from hl7.text import STANDARD
from nlp.model import Annotation, Flag
from tests.hl7.golden import (
    CASES,
    CLOCK,
    GOLDEN,
    HIP_ANNOTATION,
    KNEE_ANNOTATION,
    fixture,
)

RESULT_CASES = sorted(name for name in CASES if name.startswith("result_"))
KNEE = extract_report(fixture("oru_v251_knee_sections.hl7"))


def result_observations(result: bytes) -> list[tuple[str, str, str, str, str, str, str]]:
    """(OBX-2, OBX-3, OBX-4, OBX-5, OBX-8, OBX-11, OBX-3 coding system) per OBX, via hl7apy."""
    message = parse_message(result.decode("utf-8"), find_groups=True)
    assert isinstance(message, Message) and message.name == "ORU_R01"
    order = message.oru_r01_patient_result.oru_r01_order_observation
    rows = []
    for observation in order.oru_r01_observation:
        obx = observation.obx
        rows.append(
            (
                obx.obx_2.value,
                obx.obx_3.obx_3_1.value,
                obx.obx_4.value,
                obx.obx_5.value,
                obx.obx_8.value,
                obx.obx_11.value,
                obx.obx_3.obx_3_3.value,
            )
        )
    return rows


@pytest.mark.parametrize("name", RESULT_CASES)
def test_result_matches_golden_file(name: str) -> None:
    """Each result case gives exactly the bytes of its golden file."""
    assert CASES[name]() == (GOLDEN / name).read_bytes()


@pytest.mark.parametrize("name", RESULT_CASES)
def test_result_parses_with_hl7apy(name: str) -> None:
    """hl7apy finds ORU_R01 groups; every OBX has coding system RADFLAG and status F."""
    rows = result_observations((GOLDEN / name).read_bytes())
    assert rows[0][1] == "ORIGINAL_CONTROL_ID" and rows[1][1] == "BME_STATUS"
    assert rows[-1][1] == "ANNOTATION_JSON" and rows[-1][0] == "ED"
    assert all(row[5] == "F" and row[6] == "RADFLAG" for row in rows)


def test_result_header_per_spec() -> None:
    """MSH-3 RADFLAG, MSH-5/6 the inbound sender, new MSH-10, MSH-9 ORU^R01^ORU_R01, v2.5.1."""
    result = build_result(KNEE, KNEE_ANNOTATION, control_id="NEW-1", timestamp=CLOCK)
    msh = parse_message(result.decode("utf-8"), find_groups=False).msh
    assert msh.msh_3.value == "RADFLAG"
    assert (msh.msh_5.value, msh.msh_6.value) == (
        KNEE.header.sending_application,
        KNEE.header.sending_facility,
    )
    assert msh.msh_9.value == "ORU^R01^ORU_R01"
    assert msh.msh_10.value == "NEW-1" and msh.msh_12.value == "2.5.1"
    assert msh.msh_7.value == "20261124093000+0100"


def test_order_segments_copied_with_inbound_obr25() -> None:
    """PID, PV1, ORC and OBR are the inbound ones; OBR-25 stays the inbound P (preliminary)."""
    result = build_result(KNEE, KNEE_ANNOTATION, control_id="NEW-1", timestamp=CLOCK).decode()
    segments = split_segments(result, STANDARD)
    copied = {s.name: s for s in segments if s.name in ("PID", "PV1", "ORC", "OBR")}
    assert list(copied) == ["PID", "PV1", "ORC", "OBR"]
    inbound = {raw[:3]: raw for raw in KNEE.order_segments}
    for name in ("PID", "PV1", "ORC"):
        assert copied[name].raw == inbound[name]
    assert KNEE.result_status == "P"
    assert copied["OBR"].field(25) == "P" and copied["OBR"].field(3) == "ACC1001"
    assert copied["OBR"].component(4, 2) == "MRI KNEE RIGHT WO CONTRAST"


def test_every_observation_the_spec_names() -> None:
    """Status, sites with laterality, etiology, flags with priority, follow-up and evidence."""
    rows = result_observations(build_result(KNEE, KNEE_ANNOTATION, control_id="1", timestamp=CLOCK))
    by_id = [(r[1], r[2], r[3], r[4], r[0]) for r in rows]
    assert ("ORIGINAL_CONTROL_ID", "", "KNEE0001", "", "ST") in by_id
    assert ("BME_STATUS", "", "present^Present^RADFLAG", "", "CWE") in by_id
    assert (
        "BME_SITE",
        "1",
        "lateral_femoral_condyle^Lateral femoral condyle^RADFLAG",
        "",
        "CWE",
    ) in by_id
    assert ("BME_LATERALITY", "1", "right^Right^RADFLAG", "", "CWE") in by_id
    assert (
        "BME_SITE",
        "2",
        "lateral_tibial_plateau^Lateral tibial plateau^RADFLAG",
        "",
        "CWE",
    ) in by_id
    assert ("BME_ETIOLOGY", "", "trauma^Trauma^RADFLAG", "", "CWE") in by_id
    assert ("FLAG", "1", "BME^Bone marrow edema^RADFLAG", "A", "CWE") in by_id
    assert ("FLAG_PRIORITY", "2", "routine", "", "ST") in by_id
    follow_up = [r for r in by_id if r[0] == "FOLLOW_UP"]
    assert [(r[1], r[4]) for r in follow_up] == [("1", "TX"), ("2", "TX")]
    evidence = [r for r in by_id if r[0] == "EVIDENCE"]
    assert [(r[1], r[4]) for r in evidence] == [("1", "TX"), ("2", "TX")]


def test_high_and_urgent_flags_are_critically_abnormal() -> None:
    """OBX-8 is AA for high and urgent flags, A for routine ones."""
    annotation = Annotation(
        bme="present",
        flags=(
            Flag("BME", "routine", "s"),
            Flag("TUMOR_CONCERN", "high", "s"),
            Flag("INFECTION_CONCERN", "urgent", "s"),
        ),
    )
    rows = result_observations(build_result(KNEE, annotation, control_id="1", timestamp=CLOCK))
    assert [r[4] for r in rows if r[1] == "FLAG"] == ["A", "AA", "AA"]


def test_no_flag_still_gets_a_result() -> None:
    """A report with bme absent gets BME_STATUS absent, no site, no flag."""
    rows = result_observations(
        build_result(KNEE, Annotation(bme="absent"), control_id="1", timestamp=CLOCK)
    )
    assert [r[1] for r in rows] == ["ORIGINAL_CONTROL_ID", "BME_STATUS", "ANNOTATION_JSON"]
    assert rows[1][3] == "absent^Absent^RADFLAG"


def test_annotation_json_is_the_whole_annotation() -> None:
    """ANNOTATION_JSON is ^application^json^Base64^ of the contract's JSON (no cue offsets)."""
    rows = result_observations(build_result(KNEE, KNEE_ANNOTATION, control_id="1", timestamp=CLOCK))
    value = next(r[3] for r in rows if r[1] == "ANNOTATION_JSON")
    _, application, subtype, encoding, data = value.split("^")
    assert (application, subtype, encoding) == ("application", "json", "Base64")
    assert json.loads(base64.b64decode(data)) == KNEE_ANNOTATION.to_json_dict(modifiers=False)


def test_everything_written_is_escaped() -> None:
    """Delimiters in suggestions and evidence are escaped and read back intact."""
    annotation = Annotation(
        bme="present",
        flags=(Flag("BME", "routine", "a|b^c&d~e\\f", ("line one\nline two",)),),
    )
    result = build_result(KNEE, annotation, control_id="C|1", timestamp=CLOCK).decode()
    segments = split_segments(result, STANDARD)
    obx = {s.component(3): s for s in segments if s.name == "OBX"}
    assert obx["FOLLOW_UP"].component(5) == "a|b^c&d~e\\f"
    assert obx["EVIDENCE"].unescape(obx["EVIDENCE"].field(5)) == "line one\nline two"
    assert segments[0].component(10) == "C|1"


def test_mdm_without_obr_gets_an_obr() -> None:
    """An MDM has no OBR: the result carries one with the document number and OBR-25 F."""
    report = extract_report(fixture("mdm_v24_t04_utf8_de.hl7"))
    result = build_result(report, HIP_ANNOTATION, control_id="1", timestamp=CLOCK)
    obr = next(s for s in split_segments(result.decode(), STANDARD) if s.name == "OBR")
    assert (obr.field(3), obr.field(25)) == ("DOC3003", "F")
    assert "KMÖ".encode() in result and b"|UNICODE UTF-8\r" in result.split(b"\r", 1)[0] + b"\r"


def test_inbound_with_other_delimiters_is_rewritten() -> None:
    """Segments from a sender with other delimiters are rewritten in ^~\\&."""
    message = fixture("oru_v251_knee_sections.hl7").replace(b"^", b"$")
    report = extract_report(message)
    result = build_result(report, KNEE_ANNOTATION, control_id="1", timestamp=CLOCK).decode()
    pid = next(s for s in split_segments(result, STANDARD) if s.name == "PID")
    assert pid.raw == "PID|1||MRN1001^^^GENHOSP^MR||Testpatient^Jordan||19800101|M"
    assert result_observations(result.encode())[0][3] == "KNEE0001"
