"""The cheap read: MSH only, no hl7apy, so the listener can answer fast.

Strategy: the listener must ACK every message, and hl7apy's full parse costs
about 22 ms per report. MSH alone tells who sent it, its control id, its
version, how it wants to be acknowledged and its character set. This module
reads the first segment by hand: MSH-1 and MSH-2 give the delimiters, MSH-18
the character set (looked up in a Latin-1 view first, since MSH itself is
ASCII in practice), then only that segment is decoded and split.
"""

from __future__ import annotations

import functools
import string

from hl7.errors import (
    DataTypeError,
    RequiredFieldMissing,
    SegmentSequenceError,
    UnsupportedMessageType,
    UnsupportedVersion,
)
from hl7.model import MessageHeader
from hl7.text import Delimiters, decode_message, unescape

SUPPORTED_VERSIONS = (
    "2.3",
    "2.3.1",
    "2.4",
    "2.5",
    "2.5.1",
    "2.6",
    "2.7",
    "2.7.1",
    "2.8",
    "2.8.1",
    "2.8.2",
)
# Message types whose report radflag reads (the trigger is checked by extract_report).
SUPPORTED_MESSAGE_TYPES = ("ORU", "MDM")
# An empty MSH-9.2 on an ORU is read as R01 (older senders leave it out).
SUPPORTED_TRIGGERS = {"ORU": ("R01", ""), "MDM": ("T02", "T04")}

_HL7_NULL = '""'


def parse_header(message: bytes) -> MessageHeader:
    """Read MSH into a MessageHeader without a full parse.

    Raises SegmentSequenceError (100) when the message does not start with MSH,
    DataTypeError (102) for unusable delimiters and RequiredFieldMissing (101)
    when MSH-9 or MSH-10 is empty.
    """
    segment = _first_segment(message)
    if not segment.startswith(b"MSH"):
        raise SegmentSequenceError("message does not start with an MSH segment")
    delimiters = _delimiters(segment)
    fields = segment.decode("iso-8859-1").split(delimiters.field)
    character_set = _first(_field(fields, 18), delimiters)
    # An ASCII MSH (nearly all) reads the same in UTF-8 and the Latin-1 view.
    if character_set or not segment.isascii():
        fields = decode_message(segment, character_set).split(delimiters.field)
    return _header_from_fields(fields, delimiters)


def check_supported(header: MessageHeader) -> None:
    """Raise if radflag cannot read this kind of message.

    UnsupportedMessageType: 200 for a type other than ORU/MDM, 201 for another
    trigger (ORU^R30, MDM^T01); UnsupportedVersion (203) outside 2.3 to 2.8.
    """
    if header.message_type not in SUPPORTED_MESSAGE_TYPES:
        raise UnsupportedMessageType(
            f"message type {header.message_type}^{header.trigger_event} is not a report "
            "(radflag reads ORU^R01, MDM^T02 and MDM^T04)"
        )
    if header.trigger_event not in SUPPORTED_TRIGGERS[header.message_type]:
        raise UnsupportedMessageType(
            f"{header.message_type}^{header.trigger_event} carries no report "
            "(radflag reads ORU^R01, MDM^T02 and MDM^T04)",
            hl7_error_code=201,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(
            f"HL7 version {header.version or '(empty)'} is not supported (2.3 to 2.8)"
        )


_PUNCTUATION = frozenset(string.punctuation)


def _first_segment(message: bytes) -> bytes:
    body = message.lstrip(b"\r\n \t\x00")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    ends = [i for i in (body.find(b"\r"), body.find(b"\n")) if i >= 0]
    return body[: min(ends)] if ends else body


def _delimiters(segment: bytes) -> Delimiters:
    if len(segment) < 8:
        raise RequiredFieldMissing("MSH is too short to hold MSH-1 and MSH-2")
    field_separator = chr(segment[3])
    head = segment[4:20].decode("iso-8859-1")  # MSH-2 is at most 5 characters
    return _checked_delimiters(field_separator, head.split(field_separator, 1)[0])


@functools.lru_cache(maxsize=64)
def _checked_delimiters(field_separator: str, encoding_characters: str) -> Delimiters:
    """Delimiters for MSH-1 and MSH-2, or DataTypeError (cached: senders keep theirs)."""
    # Printable ASCII punctuation only: anything else (NUL, C1 controls, Latin-1
    # letters) would change bytes when the ACK is encoded, and the ACK could not
    # be read back (found by fuzzing: tests/fixtures/fuzz/header/).
    if field_separator not in _PUNCTUATION:
        raise DataTypeError(f"MSH-1 field separator {field_separator!r} is not usable")
    if not 2 <= len(encoding_characters) <= 5:
        raise DataTypeError("MSH-2 encoding characters must be 2 to 5 characters")
    chars = field_separator + encoding_characters
    if len(set(chars)) != len(chars) or any(c not in _PUNCTUATION for c in chars):
        raise DataTypeError("MSH-2 encoding characters must be distinct punctuation")
    delimiters = Delimiters.from_msh(field_separator, encoding_characters)
    # A short MSH-2 takes the defaults for the rest: they must not repeat one given
    # (MSH-2 "~\&" makes "&" both escape and subcomponent; found by fuzzing).
    used = delimiters.field + delimiters.encoding_characters
    if len(set(used)) != len(used):
        raise DataTypeError("MSH-2 encoding characters clash with the defaults that complete them")
    return delimiters


def _field(fields: list[str], number: int) -> str:
    """MSH-n as received, from MSH split on its field separator.

    MSH-1 is the separator itself, so MSH-n is split index n-1.
    """
    value = fields[number - 1] if number - 1 < len(fields) else ""
    return "" if value == _HL7_NULL else value


def _first(value: str, d: Delimiters) -> str:
    """First component of the first repetition, unescaped ("" for an empty or null field)."""
    if not value or value == _HL7_NULL:
        return ""
    if d.repetition in value or d.component in value or d.escape in value:
        return unescape(value.split(d.repetition, 1)[0].split(d.component, 1)[0], d).strip()
    return value.strip()  # most values: nothing to split or unescape


_MSH_FIELDS = 19  # MSH-1 to MSH-19: the last one read (language)


def _header_from_fields(fields: list[str], d: Delimiters) -> MessageHeader:
    """The header from MSH split on its field separator (index n-1 is MSH-n)."""
    if len(fields) < _MSH_FIELDS:
        fields = fields + [""] * (_MSH_FIELDS - len(fields))
    message_type = _field(fields, 9).split(d.repetition, 1)[0].split(d.component)
    # Positional, in the dataclass's field order: keywords cost a frozen dataclass twice as much.
    header = MessageHeader(
        d.field,
        d.encoding_characters,
        # HD fields are kept whole (namespace^universal id^type, inbound delimiters)
        # so the ACK can swap them back exactly.
        _field(fields, 3),  # sending_application
        _field(fields, 4),  # sending_facility
        _field(fields, 5),  # receiving_application
        _field(fields, 6),  # receiving_facility
        unescape(message_type[0], d).strip().upper(),  # message_type
        unescape(message_type[1], d).strip().upper() if len(message_type) > 1 else "",  # trigger
        _first(fields[9], d),  # control_id
        _first(fields[10], d),  # processing_id
        _first(fields[11], d),  # version
        _first(fields[14], d).upper(),  # accept_ack_type
        _first(fields[15], d).upper(),  # application_ack_type
        _first(fields[17], d),  # character_set
        _first(fields[18], d),  # language
    )
    missing = (
        "MSH-9 message type is empty"
        if not header.message_type
        else "MSH-10 message control id is empty"
        if not header.control_id or header.control_id == _HL7_NULL  # "" (null) in a component
        else None
    )
    if missing:
        error = RequiredFieldMissing(missing)
        error.header = header  # enough to answer: version, delimiters, sender
        raise error
    return header
