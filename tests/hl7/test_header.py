"""hl7.header: the cheap MSH read and the supported-message check."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hl7.ack import parse_ack
from hl7.errors import (
    DataTypeError,
    InboundMessageError,
    RequiredFieldMissing,
    SegmentSequenceError,
    UnsupportedMessageType,
    UnsupportedVersion,
)
from hl7.header import check_supported, parse_header
from tests.hl7.golden import fixture

MSH = (
    b"MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|20260101||ORU^R01^ORU_R01|C1|P|2.5.1"
    b"|||AL|NE||8859/1|EN\r"
)


def test_reads_every_msh_field_the_listener_needs() -> None:
    """Delimiters, sender, receiver, type, control id, version, ACK types, charset, language."""
    header = parse_header(MSH + b"PID|1\r")
    assert (header.field_separator, header.encoding_characters) == ("|", "^~\\&")
    assert (header.sending_application, header.sending_facility) == ("RIS", "GENHOSP")
    assert (header.receiving_application, header.receiving_facility) == ("RADFLAG", "GENHOSP")
    assert (header.message_type, header.trigger_event, header.control_id) == ("ORU", "R01", "C1")
    assert (header.processing_id, header.version) == ("P", "2.5.1")
    assert (header.accept_ack_type, header.application_ack_type) == ("AL", "NE")
    assert (header.character_set, header.language) == ("8859/1", "EN")
    assert header.enhanced_mode and header.dedupe_key == "RIS|GENHOSP|C1"


@pytest.mark.parametrize("separator", [b"\r", b"\n", b"\r\n"])
def test_any_segment_terminator(separator: bytes) -> None:
    """CR, LF and CRLF all end the MSH segment."""
    header = parse_header(MSH.rstrip(b"\r") + separator + b"PID|1" + separator)
    assert header.language == "EN"


def test_other_delimiters() -> None:
    """MSH-1 and MSH-2 define the delimiters used to read the rest of MSH."""
    header = parse_header(b"MSH*$~\\&*RIS$1.2$ISO*F*R*G*2026**ORU$R01*C2*T*2.4\r")
    assert header.sending_application == "RIS$1.2$ISO"
    assert (header.message_type, header.trigger_event, header.control_id) == ("ORU", "R01", "C2")
    assert not header.enhanced_mode


def test_hl7_null_and_leading_noise() -> None:
    """`""` reads as empty; leading blank lines, NUL and a UTF-8 BOM are ignored."""
    header = parse_header(b'\r\n\x00\xef\xbb\xbfMSH|^~\\&|""|F|R|G|2026||ORU^R01|C3|P|2.3\r')
    assert header.sending_application == "" and header.control_id == "C3"


def test_escaped_control_id_is_unescaped() -> None:
    """MSH-10 escapes are undone (the ACK escapes it again)."""
    assert parse_header(b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|A\\F\\B|P|2.5\r").control_id == "A|B"


def test_not_starting_with_msh_is_a_segment_sequence_error() -> None:
    """A message that does not start with MSH raises SegmentSequenceError (100)."""
    with pytest.raises(SegmentSequenceError) as caught:
        parse_header(fixture("not_hl7.txt"))
    assert caught.value.hl7_error_code == 100
    with pytest.raises(SegmentSequenceError):
        parse_header(b"PID|1\rMSH|^~\\&|A\r")
    with pytest.raises(SegmentSequenceError):
        parse_header(b"")


def test_missing_control_id_is_required_field_missing() -> None:
    """An empty MSH-10 raises RequiredFieldMissing (101)."""
    with pytest.raises(RequiredFieldMissing) as caught:
        parse_header(fixture("oru_v23_missing_control_id.hl7"))
    assert caught.value.hl7_error_code == 101 and "MSH-10" in str(caught.value)


def test_missing_message_type_is_required_field_missing() -> None:
    """An empty MSH-9 raises RequiredFieldMissing."""
    with pytest.raises(RequiredFieldMissing):
        parse_header(b"MSH|^~\\&|A|B|C|D|2026|||C1|P|2.5\r")


@pytest.mark.parametrize(
    "message", [b"MSH", b"MSHA^~\\&|x", b"MSH|^|A|B", b"MSH|^^\\&|A|B|C|D|||ORU|1|P|2.5"]
)
def test_unusable_delimiters(message: bytes) -> None:
    """Too short, alphanumeric or repeated delimiters raise typed errors."""
    with pytest.raises((DataTypeError, RequiredFieldMissing)):
        parse_header(message)


def test_check_supported() -> None:
    """ORU and MDM in v2.3 to v2.8 pass; other types and versions raise 200 / 203."""
    check_supported(parse_header(MSH))
    with pytest.raises(UnsupportedMessageType) as caught:
        check_supported(parse_header(fixture("adt_v25_a01.hl7")))
    assert caught.value.hl7_error_code == 200
    with pytest.raises(UnsupportedVersion) as version_error:
        check_supported(parse_header(MSH.replace(b"|2.5.1|", b"|2.1|")))
    assert version_error.value.hl7_error_code == 203


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_header_or_an_inbound_error(noise: bytes) -> None:
    """parse_header and parse_ack never fail with anything but InboundMessageError."""
    for message in (noise, b"MSH" + noise, b"MSH|^~\\&|" + noise):
        for read in (parse_header, parse_ack):
            with contextlib.suppress(InboundMessageError):
                read(message)
