"""Order fields the result builders read from a report's OBR: status, times, procedure code.

Strategy: `Report.order_segments` keeps the OBR as received, so these fields
are read from it on demand rather than widening `Report` for every consumer.
HL7 DTM values (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) are parsed leniently:
a value that is not a DTM gives None, never an error, since these fields only
decorate the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from hl7.model import Report
from hl7.segments import Segment, split_segments
from hl7.text import Delimiters

_DTM = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?(?:([+-])(\d{2})(\d{2}))?$"
)


@dataclass(frozen=True)
class OrderFields:
    """OBR-25 result status, OBR-7 observation time, OBR-22 status change time, OBR-4 code."""

    result_status: str = ""  # OBR-25 as sent (F, P, C, ...), "" when absent
    observed_at: datetime | None = None  # OBR-7
    reported_at: datetime | None = None  # OBR-22
    procedure_code: str = ""  # OBR-4.1
    procedure_system: str = ""  # OBR-4.3


def order_fields(report: Report) -> OrderFields:
    """The fields of the report's first OBR; all empty for a message without one (MDM)."""
    header = report.header
    delimiters = Delimiters.from_msh(header.field_separator, header.encoding_characters)
    obr = _first_obr(report, delimiters)
    if obr is None:
        return OrderFields()
    return OrderFields(
        result_status=obr.component(25).upper(),
        observed_at=parse_dtm(obr.component(7)),
        reported_at=parse_dtm(obr.component(22)),
        procedure_code=obr.component(4, 1),
        procedure_system=obr.component(4, 3),
    )


def parse_dtm(value: str) -> datetime | None:
    """An HL7 DTM as an aware datetime (UTC when it has no offset), or None."""
    match = _DTM.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, oh, om = match.groups()
    zone = UTC
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        zone = timezone(offset if sign == "+" else -offset)
    try:
        return datetime(
            int(year), int(month or 1), int(day or 1),
            int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone,
        )  # fmt: skip
    except ValueError:
        return None


def _first_obr(report: Report, delimiters: Delimiters) -> Segment | None:
    for raw in report.order_segments:
        if raw.startswith("OBR"):
            segments = split_segments(raw, delimiters, report.header.character_set)
            return segments[0] if segments else None
    return None
