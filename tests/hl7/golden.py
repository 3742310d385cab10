"""Golden-file cases for ACKs and result messages: the inputs and the file each must equal.

Regenerate after a deliberate change with `python -m tests.hl7.golden`, then
review the diff of tests/fixtures/hl7/golden/ before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hl7.ack import build_ack
from hl7.errors import InboundMessageError, RequiredFieldMissing, SegmentSequenceError
from hl7.extract import extract_report
from hl7.header import parse_header
from hl7.result import build_result
from nlp.model import Annotation, Flag, Mention, Site

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7"
GOLDEN = FIXTURES / "golden"
CLOCK = datetime(2026, 11, 24, 9, 30, 0, tzinfo=timezone(timedelta(hours=1)))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _ack(
    message: str, code: str, error: InboundMessageError | None = None, text: str | None = None
) -> Callable[[], bytes]:
    return lambda: build_ack(
        parse_header(fixture(message)),
        code,
        control_id="ACK-0001",
        timestamp=CLOCK,
        error=error,
        text=text,
    )


KNEE_ANNOTATION = Annotation(
    bme="present",
    sites=(Site("lateral_femoral_condyle", "right"), Site("lateral_tibial_plateau", "right")),
    etiology=("trauma",),
    flags=(
        Flag(
            "BME",
            "routine",
            "Consider clinical correlation | follow-up MRI if symptoms persist.",
            ("There is moderate bone marrow edema in the lateral femoral condyle ^ plateau.",),
        ),
        Flag(
            "TRAUMA_OVERLOAD",
            "routine",
            "Consider protected weight bearing & orthopedic review.",
            ("Bone bruises of the lateral femoral condyle", "pivot-shift pattern"),
        ),
    ),
    mentions=(
        Mention(
            152,
            169,
            "bone marrow edema",
            "present",
            "findings",
            ("lateral_femoral_condyle", "lateral_tibial_plateau"),
            "right",
            "moderate",
        ),
    ),
)
HIP_ANNOTATION = Annotation(
    bme="present",
    sites=(Site("femoral_head", None),),
    etiology=("osteonecrosis",),
    flags=(
        Flag("BME", "routine", "Consider follow-up."),
        Flag("OSTEONECROSIS_CONCERN", "high", "Consider early orthopedic referral.", ("KMÖ",)),
    ),
    language="de",
)
ABSENT_ANNOTATION = Annotation(bme="absent")


def _result(message: str, annotation: Annotation) -> Callable[[], bytes]:
    return lambda: build_result(
        extract_report(fixture(message)), annotation, control_id="RF-0001", timestamp=CLOCK
    )


CASES: dict[str, Callable[[], bytes]] = {
    "ack_AA_v251.hl7": _ack("oru_v251_knee_sections.hl7", "AA"),
    "ack_AE_v251_queue_down.hl7": _ack(
        "oru_v251_knee_sections.hl7", "AE", text="Message could not be queued; please resend."
    ),
    "ack_AR_v23_missing_control_id.hl7": _ack(
        "oru_v23_ft_escapes_crlf.hl7",
        "AR",
        RequiredFieldMissing("MSH-10 message control id is empty"),
    ),
    "ack_CA_v24.hl7": _ack("oru_v24_lab_panel.hl7", "CA"),
    "ack_CE_v24.hl7": _ack("oru_v24_lab_panel.hl7", "CE", text="Temporary failure | retry"),
    "ack_CR_v27_segment_sequence.hl7": _ack(
        "oru_v27_latin1_undeclared.hl7", "CR", SegmentSequenceError("OBX before OBR")
    ),
    "ack_AR_v25_lf.hl7": _ack(
        "oru_v25_lf_quirks.hl7", "AR", SegmentSequenceError("message does not start with MSH")
    ),
    "result_knee_flags.hl7": _result("oru_v251_knee_sections.hl7", KNEE_ANNOTATION),
    "result_knee_absent.hl7": _result("oru_v251_knee_sections.hl7", ABSENT_ANNOTATION),
    "result_mdm_without_obr.hl7": _result("mdm_v24_t04_utf8_de.hl7", HIP_ANNOTATION),
}


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, build in CASES.items():
        (GOLDEN / name).write_bytes(build())
        print(f"wrote {GOLDEN / name}")


if __name__ == "__main__":
    main()
