"""Results pass hl7apy's validation; OBR-25 follows the inbound status; PV1 needs a PID.

What hl7apy's validation relaxes, and why, is in tests/hl7/result_validation.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hl7apy.parser import parse_message

from hl7.errors import InboundMessageError
from hl7.extract import extract_report
from hl7.result import build_result
from tests.conftest import FIXTURES, SHARED
from tests.hl7.golden import ABSENT_ANNOTATION, CLOCK, HIP_ANNOTATION, KNEE_ANNOTATION
from tests.hl7.messages import wrap_mdm, wrap_oru
from tests.hl7.result_validation import validate_result

REPORT = "Findings: bone marrow edema in the medial femoral condyle."
LOCAL_INPUTS = sorted((FIXTURES / "hl7").glob("*.hl7"))
SHARED_INPUTS = sorted((SHARED / "samples" / "hl7" / "public").glob("*.hl7"))


def _results_for(path: Path) -> list[bytes]:
    """The results radflag builds for each readable report in a file (none if unreadable)."""
    message = path.read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    try:
        report = extract_report(message)
    except InboundMessageError:
        return []  # answered AR/CR: no result is ever built for it
    return [
        build_result(report, annotation, control_id="RES-1", timestamp=CLOCK)
        for annotation in (KNEE_ANNOTATION, HIP_ANNOTATION, ABSENT_ANNOTATION)
    ]


@pytest.mark.parametrize("path", LOCAL_INPUTS, ids=lambda p: p.name)
def test_results_of_fixtures_validate(path: Path) -> None:
    """Every fixture's result, with each test annotation, passes hl7apy's validation."""
    for result in _results_for(path):
        validate_result(result)


@pytest.mark.shared
@pytest.mark.parametrize("path", SHARED_INPUTS, ids=lambda p: p.name)
def test_results_of_public_samples_validate(path: Path) -> None:
    """Every public sample's result passes hl7apy's validation."""
    for result in _results_for(path):
        validate_result(result)


def test_validation_catches_a_broken_structure() -> None:
    """The check can fail: a result with PV1 but no PID is refused by hl7apy."""
    good = build_result(
        extract_report(wrap_oru(REPORT)), KNEE_ANNOTATION, control_id="R", timestamp=CLOCK
    )
    broken = b"\r".join(s for s in good.split(b"\r") if not s.startswith(b"PID|"))
    with pytest.raises(AssertionError, match="PID"):
        validate_result(broken)


def _segment_names(result: bytes) -> list[str]:
    return [s[:3].decode() for s in result.split(b"\r") if s]


def test_pv1_without_pid_is_left_out() -> None:
    """An inbound with PV1 but no PID: the result leaves PV1 out and validates."""
    inbound = b"\r".join(s for s in wrap_oru(REPORT).split(b"\r") if not s.startswith(b"PID|"))
    assert b"PV1|" in inbound
    result = build_result(extract_report(inbound), KNEE_ANNOTATION, control_id="R", timestamp=CLOCK)
    assert "PV1" not in _segment_names(result) and "PID" not in _segment_names(result)
    validate_result(result)


def test_pv1_with_pid_is_copied() -> None:
    """With a PID, PV1 is copied after it."""
    result = build_result(
        extract_report(wrap_oru(REPORT)), KNEE_ANNOTATION, control_id="R", timestamp=CLOCK
    )
    assert _segment_names(result)[1:3] == ["PID", "PV1"]


def _obr_25(result: bytes) -> str:
    message = parse_message(result.decode("utf-8"), find_groups=False)
    return str(message.obr.obr_25.value)


@pytest.mark.parametrize(
    ("inbound", "expected"), [("F", "F"), ("P", "P"), ("C", "C"), ("", "F"), ("X", "F")]
)
def test_obr_25_follows_the_inbound_status(inbound: str, expected: str) -> None:
    """A preliminary report's result is P, a corrected one C; no or an order status gives F."""
    message = wrap_oru(REPORT).replace(b"||MR|F\r", f"||MR|{inbound}\r".encode())
    assert f"||MR|{inbound}\r".encode() in message
    result = build_result(extract_report(message), KNEE_ANNOTATION, control_id="R", timestamp=CLOCK)
    assert _obr_25(result) == expected
    validate_result(result)


@pytest.mark.parametrize(("completion", "expected"), [("AU", "F"), ("IP", "P"), ("", "F")])
def test_mdm_status_comes_from_txa_17(completion: str, expected: str) -> None:
    """An MDM's TXA-17 (authenticated, in progress) gives the result's OBR-25."""
    message = wrap_mdm(REPORT)
    segments = message.split(b"\r")
    for n, segment in enumerate(segments):
        if segment.startswith(b"TXA|"):
            fields = segment.split(b"|") + [b""] * 18
            fields[17] = completion.encode()
            segments[n] = b"|".join(fields[: max(18, len(segment.split(b"|")))])
    result = build_result(
        extract_report(b"\r".join(segments)), KNEE_ANNOTATION, control_id="R", timestamp=CLOCK
    )
    assert _obr_25(result) == expected
