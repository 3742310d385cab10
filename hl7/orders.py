"""Orders, appointments and report headers read for follow-up tracking (ORM, OMI, SIU, ORU).

Strategy: the same positional split as `hl7.extract`, reading only what
matching needs: the patient's identifiers (every PID-3 repetition with its
assigning authority), the order or appointment reference, the procedure, the
modality (OBR-24) and the times. These messages carry no report to annotate:
the listener checks them here (`screen_event`) before its ACK, so one that can
never be matched (no PID-3, no procedure, a bad time) gets AR/CR with the
reason rather than a silent drop.

Times without a UTC offset are read as UTC (see docs/followups.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from hl7.errors import (
    DataTypeError,
    RequiredFieldMissing,
    UnsupportedMessageType,
    UnsupportedVersion,
)
from hl7.header import SUPPORTED_VERSIONS, parse_header
from hl7.model import MessageHeader
from hl7.segments import Segment, message_segments

# Message types radflag stores for follow-up tracking, and what each trigger means.
EVENT_TRIGGERS: dict[str, dict[str, str]] = {
    "ORM": {"O01": "order"},
    "OMI": {"O23": "order"},
    "SIU": {"S12": "new", "S13": "changed", "S14": "changed", "S15": "cancelled"},
}
# ORC-1 order control codes (HL7 table 0119): cancel / discontinue, or a change.
_CANCEL_CONTROLS = ("CA", "OC", "DC", "CR", "OD", "DR")
_CHANGE_CONTROLS = ("XO", "XX", "XR", "RP", "RU")
_CANCELLED_STATUSES = ("CA", "DC")  # ORC-5 order status
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$")


@dataclass(frozen=True)
class PatientIdentifier:
    value: str  # CX.1
    authority: str = ""  # CX.4.1 assigning authority (namespace id)
    type_code: str = ""  # CX.5 (MR, PI, ...)


@dataclass(frozen=True)
class ScheduleMessage:
    """An order or appointment message, or the header data of a report, for matching."""

    kind: str  # "order", "appointment" or "report"
    action: str  # "new", "changed", "cancelled" or "done" (a report)
    patient_ids: tuple[PatientIdentifier, ...]
    reference: str  # placer order number, or the appointment's (see `reference`)
    procedure: str | None
    service_section: str  # OBR-24 (MR, CT, CR, ...)
    at: datetime  # when the exam is (appointment), was (report), or was ordered
    scheduled_at: datetime | None = None
    accession: str = ""


def is_event_message(header: MessageHeader) -> bool:
    """True for ORM^O01, OMI^O23 and SIU^S12-S15: stored and matched, not annotated."""
    return header.message_type in EVENT_TRIGGERS


def check_event_supported(header: MessageHeader) -> None:
    """Raise UnsupportedMessageType (201) for another trigger, UnsupportedVersion (203)."""
    triggers = EVENT_TRIGGERS.get(header.message_type, {})
    if header.trigger_event not in triggers:
        accepted = ", ".join(f"{t}^{e}" for t, es in EVENT_TRIGGERS.items() for e in es)
        raise UnsupportedMessageType(
            f"{header.message_type}^{header.trigger_event} is not tracked "
            f"(radflag reads {accepted})",
            hl7_error_code=201,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(
            f"HL7 version {header.version or '(empty)'} is not supported (2.3 to 2.8)"
        )


def screen_event(message: bytes, header: MessageHeader) -> None:
    """Before the ACK: raise what `read_event` raises for a message that can never be matched."""
    check_event_supported(header)
    read_event(message)


def read_event(message: bytes) -> ScheduleMessage:
    """Read an ORM^O01, OMI^O23 or SIU^S12-S15 message.

    Raises RequiredFieldMissing (101) without PID-3, an order without ORC/OBR or
    an appointment without SCH; DataTypeError (102) for an unreadable time.
    """
    header = parse_header(message)
    check_event_supported(header)
    segments = message_segments(message, header)
    patient_ids = patient_identifiers(segments)
    if header.message_type == "SIU":
        return _appointment(header, segments, patient_ids)
    return _order(header, segments, patient_ids)


def read_report_event(
    message: bytes, received_at: datetime, header: MessageHeader | None = None
) -> ScheduleMessage:
    """A report (ORU^R01, MDM) as an event: who, what and when it was done.

    The time is OBR-7 (observation), else TXA-4/OBR-22, else MSH-7, else `received_at`.
    `header`: the message's MSH when the caller has read it already.
    """
    header = header or parse_header(message)
    segments = message_segments(message, header)
    obr = _first(segments, "OBR")
    txa = _first(segments, "TXA")
    at = None
    for segment, number in ((obr, 7), (txa, 4), (obr, 22)):
        if segment is not None and segment.component(number):
            at = _timestamp(segment.component(number), f"{segment.name}-{number}", strict=False)
            if at is not None:
                break
    at = at or _message_time(segments) or received_at
    return ScheduleMessage(
        kind="report",
        action="done",
        patient_ids=patient_identifiers(segments, required=False),
        reference=obr.component(2) if obr else "",
        procedure=_procedure(obr),
        service_section=obr.component(24) if obr else "",
        at=at,
        accession=(obr.component(3) or obr.component(18))
        if obr
        else (txa.component(12) if txa else ""),
    )


def patient_identifiers(
    segments: list[Segment], *, required: bool = True
) -> tuple[PatientIdentifier, ...]:
    """Every PID-3 repetition with a value: (CX.1, CX.4.1, CX.5)."""
    pid = _first(segments, "PID")
    found = []
    if pid is not None:
        d = pid.delimiters
        for repetition in pid.repetitions(3):
            parts = repetition.split(d.component)
            value = pid.unescape(parts[0]).strip() if parts else ""
            if not value or value == '""':
                continue
            authority = parts[3].split(d.subcomponent)[0] if len(parts) > 3 else ""
            type_code = parts[4] if len(parts) > 4 else ""
            found.append(
                PatientIdentifier(value, pid.unescape(authority).strip(), type_code.strip())
            )
    if required and not found:
        raise RequiredFieldMissing(
            "PID-3 patient identifier is empty: the message cannot be matched"
        )
    return tuple(found)


def _first(segments: list[Segment], name: str) -> Segment | None:
    return next((s for s in segments if s.name == name), None)


def _procedure(obr: Segment | None) -> str | None:
    if obr is None:
        return None
    return obr.component(4, 2) or obr.component(4, 5) or obr.component(4, 1) or None


def _message_time(segments: list[Segment]) -> datetime | None:
    msh = _first(segments, "MSH")
    return _timestamp(msh.component(7), "MSH-7", strict=False) if msh else None


def _order(
    header: MessageHeader, segments: list[Segment], patient_ids: tuple[PatientIdentifier, ...]
) -> ScheduleMessage:
    orc = _first(segments, "ORC")
    obr = _first(segments, "OBR")
    if obr is None:
        raise RequiredFieldMissing(
            f"{header.message_type}^{header.trigger_event} has no OBR: nothing was ordered"
        )
    control = orc.component(1).upper() if orc else "NW"
    status = orc.component(5).upper() if orc else ""
    if control in _CANCEL_CONTROLS or status in _CANCELLED_STATUSES:
        action = "cancelled"
    elif control in _CHANGE_CONTROLS:
        action = "changed"
    else:
        action = "new"
    reference = (
        (orc.component(2) if orc else "")
        or obr.component(2)
        or (orc.component(3) if orc else "")
        or obr.component(3)
    )
    if not reference:
        raise RequiredFieldMissing(
            "the order has no placer or filler order number (ORC-2/3, OBR-2/3)"
        )
    if not _procedure(obr):
        raise RequiredFieldMissing("OBR-4 universal service identifier is empty: what was ordered?")
    scheduled = _first_time(
        [(obr, 36, 1, "OBR-36"), (_first(segments, "TQ1"), 7, 1, "TQ1-7"), (orc, 7, 4, "ORC-7.4")]
    )
    placed = (
        _timestamp(orc.component(9), "ORC-9") if orc and orc.component(9) else None
    ) or _message_time(segments)
    if placed is None:
        raise RequiredFieldMissing("neither ORC-9 nor MSH-7 says when the order was placed")
    return ScheduleMessage(
        kind="order",
        action=action,
        patient_ids=patient_ids,
        reference=reference,
        procedure=_procedure(obr),
        service_section=obr.component(24),
        at=scheduled or placed,
        scheduled_at=scheduled,
        accession=obr.component(18) or obr.component(3),
    )


def _first_time(places: list[tuple[Segment | None, int, int, str]]) -> datetime | None:
    """The first valued time among (segment, field, component, name)."""
    for segment, number, component, name in places:
        value = segment.component(number, component) if segment is not None else ""
        if value:
            return _timestamp(value, name)
    return None


def _appointment(
    header: MessageHeader, segments: list[Segment], patient_ids: tuple[PatientIdentifier, ...]
) -> ScheduleMessage:
    sch = _first(segments, "SCH")
    if sch is None:
        raise RequiredFieldMissing(f"SIU^{header.trigger_event} has no SCH segment")
    ais = _first(segments, "AIS")
    # The placer order number ties the appointment to its order: cancelling the
    # appointment then cancels that booking; otherwise the appointment's own id.
    reference = sch.component(26) or sch.component(1) or sch.component(2)
    if not reference:
        raise RequiredFieldMissing(
            "the appointment has no id (SCH-1, SCH-2) or order number (SCH-26)"
        )
    procedure = (ais.component(3, 2) or ais.component(3, 1)) if ais else ""
    procedure = procedure or sch.component(7, 2) or sch.component(6, 2) or sch.component(7, 1)
    if not procedure:
        raise RequiredFieldMissing("neither AIS-3 nor SCH-7 says what is scheduled")
    start = _first_time(
        [(ais, 4, 1, "AIS-4"), (_first(segments, "TQ1"), 7, 1, "TQ1-7"), (sch, 11, 4, "SCH-11.4")]
    )
    if start is None:
        raise RequiredFieldMissing("the appointment has no start time (AIS-4, TQ1-7, SCH-11.4)")
    return ScheduleMessage(
        kind="appointment",
        action=EVENT_TRIGGERS["SIU"][header.trigger_event],
        patient_ids=patient_ids,
        reference=reference,
        procedure=procedure,
        service_section="",  # SIU has no OBR-24: the modality comes from the procedure
        at=start,
        scheduled_at=start,
        accession="",
    )


def _timestamp(value: str, name: str, *, strict: bool = True) -> datetime | None:
    """HL7 DTM to an aware datetime (no offset: UTC). DataTypeError when `strict` and unreadable."""
    match = _DTM.match(value.strip())
    if not match:
        if strict:
            raise DataTypeError(f"{name} is not an HL7 timestamp (YYYYMMDDHHMMSS): {value[:20]!r}")
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    zone: timezone = UTC
    if offset:
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    try:
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone,
        )
    except ValueError as e:
        if strict:
            raise DataTypeError(f"{name} is not a valid date: {value[:20]!r}") from e
        return None
    return moment.astimezone(UTC)
