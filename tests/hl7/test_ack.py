"""hl7.ack: ACK codes per mode, ACK bytes (golden files), ACK parsing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from unittest.mock import patch

import pytest
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st

from hl7 import ack
from hl7.ack import ack_code, build_ack, format_timestamp, parse_ack, response_code
from hl7.errors import (
    DataTypeError,
    InboundMessageError,
    SegmentSequenceError,
    UnsupportedMessageType,
)
from hl7.header import parse_header
from hl7.model import MessageHeader
from tests.hl7.golden import CASES, CLOCK, GOLDEN, fixture

ACK_CASES = sorted(name for name in CASES if name.startswith("ack_"))
KNEE = parse_header(fixture("oru_v251_knee_sections.hl7"))


@pytest.mark.parametrize("name", ACK_CASES)
def test_ack_matches_golden_file(name: str) -> None:
    """Each ACK case gives exactly the bytes of its golden file."""
    assert CASES[name]() == (GOLDEN / name).read_bytes()


@pytest.mark.parametrize("name", ACK_CASES)
def test_golden_ack_parses_with_hl7apy_and_back(name: str) -> None:
    """Golden ACKs are valid enough for hl7apy and read back with parse_ack."""
    ack = (GOLDEN / name).read_bytes()
    parsed = parse_message(ack.decode("utf-8"), find_groups=False)
    assert parsed.msa.msa_1.value == name.split("_")[1]
    info = parse_ack(ack)
    assert info.code == name.split("_")[1]
    assert info.control_id == "ACK-0001"


@pytest.mark.parametrize(
    ("accept", "application", "expected"),
    [
        ("", "", ("AA", "AE", "AR")),
        ("AL", "", ("CA", "CE", "CR")),
        ("AL", "NE", ("CA", "CE", "CR")),
        ("NE", "AL", (None, None, None)),
        ("ER", "", (None, "CE", "CR")),
        ("SU", "", ("CA", None, None)),
        ("", "AL", ("CA", "CE", "CR")),
    ],
)
def test_ack_code_honours_msh15(accept: str, application: str, expected: tuple) -> None:
    """Original mode answers AA/AE/AR; enhanced mode CA/CE/CR only when MSH-15 asks."""
    header = dataclasses.replace(KNEE, accept_ack_type=accept, application_ack_type=application)
    assert tuple(ack_code(header, o) for o in ("accepted", "error", "rejected")) == expected


def test_response_code_never_none() -> None:
    """Over MLLP the listener always answers: NE still gets the commit code."""
    header = dataclasses.replace(KNEE, accept_ack_type="NE", application_ack_type="NE")
    assert [response_code(header, o) for o in ("accepted", "error", "rejected")] == [
        "CA",
        "CE",
        "CR",
    ]
    assert response_code(KNEE, "error") == "AE"


def test_ack_code_rejects_unknown_outcome() -> None:
    """An outcome outside accepted/error/rejected is a programming error."""
    with pytest.raises(ValueError):
        ack_code(KNEE, "maybe")


def test_build_ack_rejects_unknown_code() -> None:
    """Only AA AE AR CA CE CR can be built."""
    with pytest.raises(ValueError):
        build_ack(KNEE, "AX", control_id="1", timestamp=CLOCK)


def test_ack_swaps_sender_and_receiver_and_echoes_control_id() -> None:
    """MSH-3/4 of the ACK are the inbound MSH-5/6 and vice versa; MSA-2 is the inbound MSH-10."""
    ack = parse_header(build_ack(KNEE, "AA", control_id="X9", timestamp=CLOCK))
    assert (ack.sending_application, ack.sending_facility) == (
        KNEE.receiving_application,
        KNEE.receiving_facility,
    )
    assert (ack.receiving_application, ack.receiving_facility) == (
        KNEE.sending_application,
        KNEE.sending_facility,
    )
    assert ack.control_id == "X9" and ack.version == KNEE.version
    assert (
        parse_ack(build_ack(KNEE, "AA", control_id="X9", timestamp=CLOCK)).acked_control_id
        == "KNEE0001"
    )


def test_ack_keeps_inbound_delimiters() -> None:
    """A message with other delimiters is answered in the same ones."""
    message = fixture("oru_v251_knee_sections.hl7").replace(b"|", b"*").replace(b"^", b"$")
    header = parse_header(message)
    ack = build_ack(
        header, "AR", control_id="X1", timestamp=CLOCK, error=UnsupportedMessageType("no $ report")
    )
    assert ack.startswith(b"MSH*$~\\&*RADFLAG*GENHOSP*RIS*")
    info = parse_ack(ack)
    assert (info.code, info.error_code, info.acked_control_id) == ("AR", "200", "KNEE0001")
    assert "no $ report" in info.text


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8"])
def test_error_code_and_text_in_every_version(version: str) -> None:
    """The 0357 code and the readable text survive a round trip whatever the version style."""
    header = dataclasses.replace(KNEE, version=version)
    error = InboundMessageError("report text missing", hl7_error_code=207)
    info = parse_ack(build_ack(header, "AR", control_id="1", timestamp=CLOCK, error=error))
    assert info.error_code == "207"
    assert "report text missing" in info.text


def test_ack_version_style_of_err() -> None:
    """v2.4 writes ERR-1 (^^^code&text&HL70357); v2.5+ writes ERR-3, ERR-4 and ERR-8."""
    error = SegmentSequenceError("PID after OBX")
    old = build_ack(
        dataclasses.replace(KNEE, version="2.4"), "AR", control_id="1", timestamp=CLOCK, error=error
    )
    new = build_ack(KNEE, "AR", control_id="1", timestamp=CLOCK, error=error)
    assert b"\rERR|^^^100&Segment sequence error&HL70357\r" in old
    assert b"\rERR|||100^Segment sequence error^HL70357|E||||PID after OBX\r" in new


def test_ack_without_trigger_is_plain_ack() -> None:
    """MSH-9 `ORU` without a trigger is answered with MSH-9 `ACK`."""
    header = dataclasses.replace(KNEE, trigger_event="", version="2.3")
    assert b"||ACK|1|" in build_ack(header, "AA", control_id="1", timestamp=CLOCK)


def test_ack_in_declared_character_set() -> None:
    """An inbound 8859/1 message gets an ACK declaring and encoded in 8859/1."""
    header = dataclasses.replace(KNEE, character_set="8859/1")
    ack = build_ack(header, "AE", control_id="1", timestamp=CLOCK, text="Größe")
    assert "Größe".encode("iso-8859-1") in ack and b"|8859/1\r" in ack
    assert parse_ack(ack).text.startswith("Größe")


def test_parse_ack_of_garbage_raises() -> None:
    """Bytes that are not an ACK raise InboundMessageError subclasses."""
    with pytest.raises(SegmentSequenceError):
        parse_ack(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(SegmentSequenceError):
        parse_ack(b"MSH|^~\\&|A|B|C|D|||ACK|1|P|2.5\r")
    with pytest.raises(DataTypeError):
        parse_ack(b"MSH|^~\\&|A|B|C|D|||ACK|1|P|2.5\rMSA|XX|1\r")


def test_parse_ack_flags() -> None:
    """accepted for AA/CA, rejected for AR/CR, neither for AE/CE."""
    for code, accepted, rejected in [
        ("AA", True, False),
        ("CE", False, False),
        ("CR", False, True),
    ]:
        info = parse_ack(build_ack(KNEE, code, control_id="1", timestamp=CLOCK))
        assert (info.accepted, info.rejected) == (accepted, rejected)


def test_timestamps_keep_their_zone_and_second() -> None:
    """The same instant in two zones, and the next second, each read as written."""
    utc = datetime(2026, 3, 1, 23, 59, 59, 900_000, tzinfo=UTC)
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert format_timestamp(utc) == "20260301235959+0000"
    assert format_timestamp(berlin) == "20260302005959+0100"
    assert format_timestamp(utc + timedelta(seconds=0.2)) == "20260302000000+0000"
    assert format_timestamp(utc.replace(tzinfo=None)) == "20260301235959"


# --- the positive ACK's cached frame --------------------------------------------------

_FIELD_TEXT = st.text(alphabet=st.sampled_from(list("AZaz09 .-_|^~\\&#ÄöüßéØ\x00")), max_size=8)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
)
_STAMPS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=_ZONES
) | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@st.composite
def _headers(draw: st.DrawFn) -> MessageHeader:
    """KNEE's MSH with any sender fields, delimiters, version, trigger and character set."""
    separators = draw(st.sampled_from(["|^~\\&", "|^~\\&#", "#^~\\&", "!@$%&", "|^~\\"]))
    return dataclasses.replace(
        KNEE,
        field_separator=separators[0],
        encoding_characters=separators[1:],
        sending_application=draw(_FIELD_TEXT),
        sending_facility=draw(_FIELD_TEXT),
        receiving_application=draw(_FIELD_TEXT),
        receiving_facility=draw(_FIELD_TEXT),
        trigger_event=draw(st.sampled_from(["R01", "T02", "", "R^1"])),
        control_id=draw(_FIELD_TEXT.filter(bool)),
        processing_id=draw(st.sampled_from(["P", "T", "D^T"])),
        version=draw(st.sampled_from(["2.3", "2.3.1", "2.5.1", "2.7", "2.8.2", "x"])),
        character_set=draw(st.sampled_from(["", "UNICODE UTF-8", "8859/1", "ASCII"])),
    )


@settings(max_examples=400, deadline=None)
@given(
    header=_headers(),
    code=st.sampled_from(["AA", "CA"]),
    ack_id=_FIELD_TEXT.filter(bool),
    stamp=_STAMPS,
)
def test_positive_ack_is_the_full_build_byte_for_byte(
    header: MessageHeader, code: str, ack_id: str, stamp: datetime
) -> None:
    """The cached frame (AA/CA without text) gives what building every segment gives, for
    any sender fields, delimiters, version, character set and time zone."""
    built = build_ack(header, code, control_id=ack_id, timestamp=stamp)
    with patch.object(ack, "_positive_ack", lambda *args: None):
        full = build_ack(header, code, control_id=ack_id, timestamp=stamp)
    assert built == full


def test_positive_ack_frame_is_built_once_per_sender() -> None:
    ack._positive_frame.cache_clear()
    for n in range(20):
        header = dataclasses.replace(KNEE, control_id=f"CTRL{n}")
        build_ack(header, "AA", control_id=f"A{n}", timestamp=CLOCK + timedelta(seconds=n))
    info = ack._positive_frame.cache_info()
    assert (info.misses, info.hits) == (1, 19)
    parsed = parse_ack(build_ack(KNEE, "AA", control_id="A1", timestamp=CLOCK))
    assert (parsed.code, parsed.acked_control_id) == ("AA", KNEE.control_id)
