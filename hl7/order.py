"""The patient and order details a worklist shows: name, birth date, sex, exam and report times.

Read from the PID and OBR segments that `extract_report` kept as received
(`Report.order_segments`), with the message's own delimiters: PID-5 (name),
PID-7 (birth date), PID-8 (sex), OBR-7 (observation, i.e. exam, time), OBR-22
(results report time) and OBR-25 (result status: P preliminary, F final,
C corrected, ...). Everything is optional: a missing or unreadable value is
None, never an error. These are patient identifiers: show them behind a login,
never log them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from hl7.model import Report
from hl7.segments import Segment, split_segments
from hl7.text import Delimiters

# HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]
_DTM = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?(?:([+-])(\d{2})(\d{2}))?$"
)
RESULT_STATUSES = {
    "P": "preliminary",
    "F": "final",
    "C": "corrected",
    "A": "amended",
    "R": "not verified",
    "S": "partial",
    "X": "cancelled",
}


@dataclass(frozen=True)
class OrderDetails:
    """What PID and OBR say about the patient and the exam; None where not given."""

    patient_name: str | None = None  # "Family, Given"
    birth_date: date | None = None
    sex: str | None = None  # PID-8 as sent: F, M, O, U, ...
    exam_time: datetime | None = None  # OBR-7, UTC
    report_time: datetime | None = None  # OBR-22, UTC
    result_status: str | None = None  # OBR-25 code, upper case


def parse_dtm(value: str, *, default_offset: timedelta = timedelta(0)) -> datetime | None:
    """An HL7 DTM as an aware UTC datetime; None when empty or malformed.

    A value without an offset is read at `default_offset` (the sender's local time
    is not known here; UTC unless the caller knows better).
    """
    match = _DTM.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = default_offset
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        offset = -offset if sign == "-" else offset
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    return moment.astimezone(UTC)


def order_details(report: Report) -> OrderDetails:
    """The worklist's patient and exam details from a report's PID and OBR."""
    header = report.header
    delimiters = Delimiters.from_msh(header.field_separator, header.encoding_characters)
    segments = split_segments("\r".join(report.order_segments), delimiters)
    pid = next((s for s in segments if s.name == "PID"), None)
    obr = next((s for s in segments if s.name == "OBR"), None)
    birth = parse_dtm(pid.component(7)) if pid else None
    return OrderDetails(
        patient_name=_name(pid) if pid else None,
        birth_date=birth.date() if birth else None,
        sex=(pid.component(8).upper()[:1] or None) if pid else None,
        exam_time=parse_dtm(obr.component(7)) if obr else None,
        report_time=parse_dtm(obr.component(22)) if obr else None,
        result_status=(obr.component(25).upper()[:1] or None) if obr else None,
    )


def _name(pid: Segment) -> str | None:
    family, given = pid.component(5, 1), pid.component(5, 2)
    if family and given:
        return f"{family}, {given}"
    return family or given or None


def age_at(birth_date: date | None, moment: datetime | None) -> int | None:
    """Whole years from `birth_date` to `moment` (None when either is unknown or odd)."""
    if birth_date is None or moment is None:
        return None
    day = moment.date()
    years = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
    return years if 0 <= years < 150 else None
