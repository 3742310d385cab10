"""The result's follow-up rows (after the spec's) and the overdue notification message."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from hl7apy.parser import parse_message

from followup.model import Interval, Recommendation
from hl7.extract import extract_report
from hl7.followup_obx import course_rows, recommendation_rows
from hl7.notification import build_overdue_notification, standard_order_segments, standard_sender
from hl7.result import build_result
from tests.hl7.golden import CLOCK, KNEE_ANNOTATION, fixture
from tests.hl7.test_result import result_observations

KNEE = extract_report(fixture("oru_v251_knee_sections.hl7"))
SENTENCE = KNEE.text.index("There is moderate")
REC = Recommendation(
    modality="MRI", region="knee", side="right", interval=Interval(42, 56), urgency="routine",
    condition="if pain persists", text="Follow-up MRI in 6-8 weeks.", source="report",
    evidence=((SENTENCE, SENTENCE + 30),), flag="BME",
)  # fmt: skip
REPORT_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_rows_come_after_the_specs_and_parse_with_hl7apy() -> None:
    """Spec rows keep their places; follow-up rows follow ANNOTATION_JSON, coded RADFLAG, F."""
    extra = recommendation_rows([REC.to_dict()], KNEE.text, REPORT_AT) + course_rows(
        {"course": "progressed", "escalate_osteonecrosis": True, "reason": "the edema progressed"}
    )
    plain = result_observations(
        build_result(KNEE, KNEE_ANNOTATION, control_id="R1", timestamp=CLOCK)
    )
    rows = result_observations(
        build_result(KNEE, KNEE_ANNOTATION, control_id="R1", timestamp=CLOCK, extra_rows=extra)
    )
    assert rows[: len(plain)] == plain
    added = {row[1]: row for row in rows[len(plain) :]}
    assert added["FOLLOW_UP_INTERVAL"][3] == "42^56" and added["FOLLOW_UP_INTERVAL"][0] == "NR"
    assert added["FOLLOW_UP_DUE"][3] == "202602160900^202603020900"
    assert added["FOLLOW_UP_SIDE"][3].startswith("right^")
    assert added["FOLLOW_UP_EVIDENCE"][3] == KNEE.text[SENTENCE : SENTENCE + 30]
    assert added["OSTEONECROSIS_ESCALATION"][4] == "AA"
    assert all(row[5] == "F" and row[6] == "RADFLAG" for row in rows)
    encoded = added["FOLLOW_UP_JSON"][3]
    assert json.loads(base64.b64decode(encoded.split("^")[4])) == [REC.to_dict()]


def test_no_recommendation_no_rows() -> None:
    """A report without recommendations and course adds nothing (results stay as before)."""
    assert recommendation_rows([], KNEE.text, REPORT_AT) == [] and course_rows(None) == []


def test_overdue_notification_is_an_oru_for_the_same_patient_and_order() -> None:
    """ORU^R01 v2.5.1 from RADFLAG to the report's sender, its PID/OBR, FOLLOW_UP_OVERDUE first."""
    application, facility = standard_sender(KNEE)
    message = build_overdue_notification(
        order_segments=standard_order_segments(KNEE),
        receiving_application=application,
        receiving_facility=facility,
        original_control_id=KNEE.control_id,
        followup_id="f" * 32,
        recommendation=REC.to_dict(),
        report_at=REPORT_AT,
        control_id="FU123",
        timestamp=CLOCK,
    )
    parsed = parse_message(message.decode("utf-8"), find_groups=True)
    assert parsed.name == "ORU_R01"
    assert parsed.msh.msh_3.value == "RADFLAG" and parsed.msh.msh_5.value == "RIS"
    assert parsed.msh.msh_9.value == "ORU^R01^ORU_R01" and parsed.msh.msh_10.value == "FU123"
    pid = parsed.oru_r01_patient_result.oru_r01_patient.pid
    assert pid.pid_3.value.startswith("MRN1001")
    rows = result_observations(message)
    assert rows[0][1:5] == ("FOLLOW_UP_OVERDUE", "1", "overdue^Follow-up overdue^RADFLAG", "A")
    assert rows[1][:4] == ("ST", "FOLLOW_UP_ID", "1", "f" * 32)
    assert "FOLLOW_UP_JSON" not in [row[1] for row in rows]
