"""An ORU^R01 v2.5.1 carrying a plain-text report: how text without HL7 enters the service.

For `radflag backfill` of JSON Lines (`{"id", "text", ...}`): the report becomes
a message like the ones an integration engine sends, so that it goes through
the same parse, annotation, follow-up tracking and store as any other, and
shows on the worklist with its accession. One TX OBX per line of text
(escaped), OBR-3 the accession, PID-3 the patient id and PID-5 the name when
there are ones, else HL7's null `""` (without a PID-3 no follow-up can be
matched to a patient, see worker/followup_tasks.py),
MSH-18 `UNICODE UTF-8`, MSH-19 the language when given (a hint: the text
decides, worker/reports.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hl7.ack import format_timestamp
from hl7.text import escape

SENDING_APPLICATION = "RADFLAG-BACKFILL"
VERSION = "2.5.1"


@dataclass(frozen=True)
class TextReport:
    """A report known only by its text and a few identifiers."""

    text: str
    accession: str
    control_id: str
    procedure: str | None = None
    language: str | None = None
    patient_id: str | None = None
    patient_name: str | None = None  # as HL7 XPN: FAMILY^GIVEN
    facility: str = "BACKFILL"


def build_report_message(report: TextReport, *, timestamp: datetime) -> bytes:
    """The ORU^R01 (CR segment ends, UTF-8) whose report is `report.text`."""
    facility = escape(report.facility)
    language = f"|{escape(report.language)}" if report.language else ""
    msh = (
        f"MSH|^~\\&|{SENDING_APPLICATION}|{facility}|RADFLAG|{facility}|"
        f"{format_timestamp(timestamp)}||ORU^R01^ORU_R01|{escape(report.control_id)}|P|{VERSION}"
        f"||||||UNICODE UTF-8{language}"
    )
    # PID-3 and PID-5 are required: HL7's null ("") where the report has none.
    pid3 = f"{escape(report.patient_id)}^^^{facility}^MR" if report.patient_id else '""'
    pid5 = (
        "^".join(escape(part) for part in report.patient_name.split("^"))
        if report.patient_name
        else '""'
    )
    pid = f"PID|1||{pid3}||{pid5}"
    accession = escape(report.accession)
    obr4 = f"MR^{escape(report.procedure)}^L" if report.procedure else "MR"
    lines = report.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    segments = [
        msh,
        pid,
        f"ORC|RE|{accession}|{accession}",
        "|".join(["OBR", "1", accession, accession, obr4, *[""] * 19, "MR", "F"]),  # OBR-24, -25
        *(
            f"OBX|{number}|TX|RPT^Report^L||{escape(line)}||||||F"
            for number, line in enumerate(lines, 1)
        ),
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")
