"""Acknowledgments: which code to answer with, the ACK bytes, and reading an ACK.

Strategy: the ACK is built by hand from the MessageHeader (no hl7apy), in the
inbound message's version, delimiters and character set, so the listener's
answer costs microseconds. Errors follow the version's style: v2.3/v2.4 put
the HL7 table 0357 code in ERR-1 and the readable text in MSA-3; v2.5 and later
use ERR-3 (code), ERR-4 (severity) and ERR-8 (text), with MSA-3 kept until v2.7
withdrew it.

Which code (`ack_code`): original mode (MSH-15 and MSH-16 empty) answers
AA/AE/AR. Enhanced mode answers with a commit ACK CA/CE/CR, only when MSH-15
asks for one: AL always (also when MSH-15 is empty but MSH-16 is valued), NE
never, ER only for errors, SU only for success.

What the listener does when `ack_code` returns None: it still answers on the
MLLP connection, with `response_code` (the commit code CA/CE/CR). Most MLLP
senders block on the socket until a response arrives whatever MSH-15 says,
and a missing answer stalls the queue until their timeout and causes resends;
a sender that truly does not wait ignores a response whose MSA-2 names a
message it already considers sent. The spec's rule still holds: AA/CA only
after the message is durably queued.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from hl7.errors import DataTypeError, InboundMessageError, SegmentSequenceError
from hl7.header import parse_header
from hl7.model import AckInfo, MessageHeader
from hl7.segments import Segment, split_segments
from hl7.text import Delimiters, decode_message, encode_message, escape

ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR")
OUTCOMES = ("accepted", "error", "rejected")
RADFLAG_APPLICATION = "RADFLAG"

# HL7 table 0357, message error condition codes.
ERROR_CODE_TEXT: dict[int, str] = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    104: "Value too long",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}

_ORIGINAL = {"accepted": "AA", "error": "AE", "rejected": "AR"}
_ENHANCED = {"accepted": "CA", "error": "CE", "rejected": "CR"}
_MAX_TEXT = 250


def ack_code(header: MessageHeader, outcome: str) -> str | None:
    """The ACK code for an outcome ("accepted", "error", "rejected"), honouring MSH-15.

    None means the sender asked for no accept ACK in this case (MSH-15 NE, ER on
    success, SU on error); see the module docstring for what the listener does then.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    if not header.enhanced_mode:
        return _ORIGINAL[outcome]
    condition = header.accept_ack_type or "AL"
    wanted = {
        "NE": False,
        "ER": outcome != "accepted",
        "SU": outcome == "accepted",
    }.get(condition, True)
    return _ENHANCED[outcome] if wanted else None


def response_code(header: MessageHeader, outcome: str) -> str:
    """The code the listener answers with over MLLP: `ack_code`, else the commit code."""
    code = ack_code(header, outcome)
    return code if code is not None else _ENHANCED[outcome]


def build_ack(
    header: MessageHeader,
    code: str,
    *,
    control_id: str,
    timestamp: datetime,
    error: InboundMessageError | None = None,
    text: str | None = None,
) -> bytes:
    """The ACK for an inbound message: MSH (sender and receiver swapped), MSA, and ERR on error.

    `text` overrides the error's text; an AE/AR/CE/CR without `error` is reported
    as 207 application internal error.
    """
    if code not in ACK_CODES:
        raise ValueError(f"ACK code must be one of {ACK_CODES}, got {code!r}")
    if error is None and text is None and code in ("AA", "CA"):  # the listener's usual answer
        positive = _positive_ack(header, code, control_id, timestamp)
        if positive is not None:
            return positive
    d = Delimiters.from_msh(header.field_separator, header.encoding_characters)
    version = _version_tuple(header.version)
    failed = code not in ("AA", "CA")
    readable = text if text is not None else (error.text if error is not None else "")
    readable = " ".join(readable.split())[:_MAX_TEXT]
    error_code = error.hl7_error_code if error is not None else 207
    if failed and not readable:
        readable = ERROR_CODE_TEXT.get(error_code, "Application error")
    segments = [
        _msh(header, d, control_id, format_timestamp(timestamp), version),
        _msa(header, d, code, readable, version),
    ]
    if failed:
        segments.append(_err(d, error_code, readable, version))
    return encode_message("\r".join(segments) + "\r", header.character_set)


def _positive_ack(
    header: MessageHeader, code: str, control_id: str, timestamp: datetime
) -> bytes | None:
    """`build_ack` for AA or CA with no text: the sender's frame (cached), then three values.

    Only MSH-7 (the time), MSH-10 (this ACK's id) and MSA-2 (the message's
    control id) differ between the ACKs a sender gets; the rest is built once
    per sender and code, by `build_ack`'s own segment functions. None when the
    frame cannot be cut (a field holding a placeholder): `build_ack` then does it all.
    """
    frame = _positive_frame(
        header.field_separator, header.encoding_characters, header.receiving_application,
        header.receiving_facility, header.sending_application, header.sending_facility,
        header.trigger_event, header.processing_id, header.version, header.character_set, code,
    )  # fmt: skip
    if frame is None:
        return None
    head, middle, tail, d = frame
    text = (
        head + format_timestamp(timestamp) + middle + escape(control_id, d) + tail
        + escape(header.control_id, d) + "\r"
    )  # fmt: skip
    return encode_message(text, header.character_set)


# Placeholders for the values that differ: NUL never is a delimiter nor escaped.
_TIME, _ACK_ID, _CONTROL_ID = "\x00time\x00", "\x00ack-id\x00", "\x00control-id\x00"


@functools.lru_cache(maxsize=256)
def _positive_frame(
    field_separator: str, encoding_characters: str, receiving_application: str,
    receiving_facility: str, sending_application: str, sending_facility: str,
    trigger_event: str, processing_id: str, version: str, character_set: str, code: str,
) -> tuple[str, str, str, Delimiters] | None:  # fmt: skip
    """A positive ACK's text before its time, between time and own id, and before MSA-2."""
    header = MessageHeader(
        field_separator=field_separator, encoding_characters=encoding_characters,
        sending_application=sending_application, sending_facility=sending_facility,
        receiving_application=receiving_application, receiving_facility=receiving_facility,
        message_type="", trigger_event=trigger_event, control_id=_CONTROL_ID,
        processing_id=processing_id, version=version, character_set=character_set,
    )  # fmt: skip
    d = Delimiters.from_msh(field_separator, encoding_characters)
    numbers = _version_tuple(version)
    text = _msh(header, d, _ACK_ID, _TIME, numbers) + "\r" + _msa(header, d, code, "", numbers)
    if any(text.count(mark) != 1 for mark in (_TIME, _ACK_ID, _CONTROL_ID)):
        return None
    head, rest = text.split(_TIME)
    middle, rest = rest.split(_ACK_ID)
    tail, end = rest.split(_CONTROL_ID)
    if end:  # MSA-2 is the last field of a positive ACK
        return None
    return head, middle, tail, d


def parse_ack(message: bytes) -> AckInfo:
    """Read an ACK's MSA (and ERR texts).

    Raises an InboundMessageError subclass for bytes that are not an ACK with a valid MSA-1.
    """
    header = parse_header(message)
    d = Delimiters.from_msh(header.field_separator, header.encoding_characters)
    segments = split_segments(decode_message(message, header.character_set), d)
    msa = next((s for s in segments if s.name == "MSA"), None)
    if msa is None:
        raise SegmentSequenceError("acknowledgment has no MSA segment")
    code = msa.component(1).upper()
    if code not in ACK_CODES:
        raise DataTypeError(f"MSA-1 {code!r} is not an acknowledgment code")
    texts = [msa.unescape(msa.field(3)).strip()]
    error_code = ""
    for err in (s for s in segments if s.name == "ERR"):
        found_code, found_texts = _err_details(err)
        error_code = error_code or found_code
        texts.extend(found_texts)
    return AckInfo(
        code=code,
        acked_control_id=msa.component(2),
        text="; ".join(dict.fromkeys(t for t in texts if t)),
        control_id=header.control_id,
        error_code=error_code,
    )


@functools.lru_cache(maxsize=64)
def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (2, 5, 1)  # unknown versions are answered in the current style


def _msh(
    header: MessageHeader,
    d: Delimiters,
    control_id: str,
    stamp: str,
    version: tuple[int, ...],
) -> str:
    trigger = escape(header.trigger_event, d)
    if not trigger:
        message_type = "ACK"
    elif version >= (2, 3, 1):
        message_type = f"ACK{d.component}{trigger}{d.component}ACK"
    else:
        message_type = f"ACK{d.component}{trigger}"
    fields = [
        "MSH",
        d.encoding_characters,
        header.receiving_application or RADFLAG_APPLICATION,
        header.receiving_facility,
        header.sending_application,
        header.sending_facility,
        stamp,
        "",
        message_type,
        escape(control_id, d),
        escape(header.processing_id, d),
        escape(header.version, d),
    ]
    if header.character_set:
        fields += ["", "", "", "", "", escape(header.character_set, d)]
    return d.field.join(fields)


def _msa(
    header: MessageHeader, d: Delimiters, code: str, readable: str, version: tuple[int, ...]
) -> str:
    fields = ["MSA", code, escape(header.control_id, d)]
    if readable and version < (2, 7):
        fields.append(escape(readable, d))
    return d.field.join(fields)


def _err(d: Delimiters, error_code: int, readable: str, version: tuple[int, ...]) -> str:
    name = ERROR_CODE_TEXT.get(error_code, "Application error")
    if version < (2, 5):
        coded = d.subcomponent.join([str(error_code), escape(name, d), "HL70357"])
        return d.field.join(["ERR", d.component * 3 + coded])
    coded = d.component.join([str(error_code), escape(name, d), "HL70357"])
    return d.field.join(["ERR", "", "", coded, "E", "", "", "", escape(readable, d)])


def _err_details(err: Segment) -> tuple[str, list[str]]:
    """The 0357 code and texts of an ERR, from ERR-1 (v2.3/2.4) or ERR-3 and ERR-8 (v2.5+)."""
    location = err.field(1).split(err.delimiters.repetition, 1)[0].split(err.delimiters.component)
    coded_location = location[3].split(err.delimiters.subcomponent) if len(location) > 3 else []
    codes = [err.unescape(coded_location[0]).strip() if coded_location else "", err.component(3)]
    texts = [
        err.unescape(coded_location[1]).strip() if len(coded_location) > 1 else "",
        err.component(3, 2),
        err.unescape(err.field(8)).strip(),
    ]
    return next((c for c in codes if c), ""), texts


def format_timestamp(timestamp: datetime) -> str:
    """HL7 DTM: YYYYMMDDHHMMSS, with +/-ZZZZ when the datetime knows its zone."""
    # The offset is part of the key: the same instant in two zones compares equal.
    return _format_second(timestamp.replace(microsecond=0), timestamp.utcoffset())


@functools.lru_cache(maxsize=8)  # an ACK a message: most share their second with the last
def _format_second(timestamp: datetime, _offset: timedelta | None) -> str:
    return timestamp.strftime("%Y%m%d%H%M%S%z")
