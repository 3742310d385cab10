"""The overdue notification: an ORU^R01 v2.5.1 with a FOLLOW_UP_OVERDUE observation.

Strategy: built like the result (`hl7.result`): the PID, PV1, ORC and OBR of
the report that made the recommendation, so the receiving engine files it to
the same patient and order, then the observations. The order segments are
stored with the recommendation already in the standard delimiters
(`standard_order_segments`). Documented in docs/followups.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hl7.ack import format_timestamp
from hl7.followup_obx import _coded, recommendation_rows
from hl7.model import Report
from hl7.result import CHARACTER_SET, SENDING_APPLICATION, VERSION, _obx, _order_segments
from hl7.text import STANDARD, Delimiters, encode_message, escape


def standard_order_segments(report: Report) -> tuple[str, ...]:
    """The report's PID, PV1, ORC and OBR as the result carries them (standard delimiters)."""
    inbound = Delimiters.from_msh(report.header.field_separator, report.header.encoding_characters)
    return tuple(_order_segments(report, inbound))


def build_overdue_notification(
    *,
    order_segments: tuple[str, ...],
    receiving_application: str,
    receiving_facility: str,
    original_control_id: str,
    followup_id: str,
    recommendation: Mapping[str, Any],
    report_at: datetime,
    control_id: str,
    timestamp: datetime,
) -> bytes:
    """The notification for one follow-up that went overdue, as bytes ready for MLLP.

    `receiving_application`/`_facility` are the HD fields (standard delimiters)
    of the system that sent the report; they go to MSH-5/6.
    """
    msh = "|".join(
        [
            "MSH", STANDARD.encoding_characters, SENDING_APPLICATION, "",
            receiving_application, receiving_facility, format_timestamp(timestamp), "",
            "ORU^R01^ORU_R01", escape(control_id), "P", VERSION, "", "", "", "", "",
            CHARACTER_SET,
        ]
    )  # fmt: skip
    rows = [
        ("CWE", "FOLLOW_UP_OVERDUE", "1", _coded("overdue", "Follow-up overdue"), "A"),
        ("ST", "FOLLOW_UP_ID", "1", escape(followup_id), ""),
        ("ST", "ORIGINAL_CONTROL_ID", "", escape(original_control_id), ""),
        *recommendation_rows([recommendation], "", report_at)[:-1],  # without the JSON row
    ]
    segments = [msh, *order_segments]
    segments.extend(_obx(set_id, *row) for set_id, row in enumerate(rows, start=1))
    return encode_message("\r".join(segments) + "\r", CHARACTER_SET)


def standard_sender(report: Report) -> tuple[str, str]:
    """MSH-3 and MSH-4 of the report (HD fields) in the standard delimiters."""
    from hl7.result import _redelimit

    inbound = Delimiters.from_msh(report.header.field_separator, report.header.encoding_characters)
    return (
        _redelimit(report.header.sending_application, inbound),
        _redelimit(report.header.sending_facility, inbound),
    )
