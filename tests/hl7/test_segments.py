"""hl7.segments: the hand split agrees with hl7apy's parse on real messages."""

from __future__ import annotations

import re

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from hl7.header import parse_header
from hl7.segments import split_segments
from hl7.text import Delimiters, decode_message
from tests.conftest import SHARED
from tests.hl7.golden import FIXTURES

SAMPLES = SHARED / "samples" / "hl7" / "public"
# hl7apy 1.3.5 hands values back with formatting escapes re-escaped (`\.br\` as
# `\E\.br\E\`, one more reason the read path does not use it) and trailing empty
# components dropped; both are undone before comparing.
_HL7APY_REESCAPED = re.compile(r"\\E\\(\.br|\.sp[^\\]*|X[0-9A-Fa-f]+|H|N)\\E\\")


def obx_fields(text: str, delimiters: Delimiters) -> list[tuple[str, str, str]]:
    return [
        (s.field(2), s.field(3).rstrip(delimiters.component), s.field(5))
        for s in split_segments(text, delimiters)
        if s.name == "OBX"
    ]


def hl7apy_obx_fields(text: str) -> list[tuple[str, str, str]]:
    message = parse_message(
        text.replace("\n", "\r"), find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
    )
    rows = []
    for segment in message.children:
        if segment.name != "OBX":
            continue
        values = [
            "~".join(r.to_er7() for r in field) if field else ""
            for field in (segment.obx_2, segment.obx_3, segment.obx_5)
        ]
        rows.append(tuple(_HL7APY_REESCAPED.sub(r"\\\1\\", v) for v in values))
    return rows  # type: ignore[return-value]


def check_against_hl7apy(raw: bytes) -> None:
    header = parse_header(raw)
    delimiters = Delimiters.from_msh(header.field_separator, header.encoding_characters)
    text = decode_message(raw, header.character_set)
    assert obx_fields(text, delimiters) == hl7apy_obx_fields(text)


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.hl7")))
def test_sample_obx_fields_agree_with_hl7apy(name: str) -> None:
    """OBX-2, OBX-3 and OBX-5 of each public sample, split by hand, equal hl7apy's."""
    check_against_hl7apy((SAMPLES / name).read_bytes())


@pytest.mark.parametrize(
    "name", sorted(p.name for p in FIXTURES.glob("o*.hl7") if "missing_control_id" not in p.name)
)
def test_fixture_obx_fields_agree_with_hl7apy(name: str) -> None:
    """OBX-2, OBX-3 and OBX-5 of each ORU fixture, split by hand, equal hl7apy's."""
    check_against_hl7apy((FIXTURES / name).read_bytes())


def test_a_message_read_twice_gives_the_same_segments_and_a_list_of_its_own() -> None:
    """`message_segments` remembers the last messages; a caller changing its list (or a
    message in another character set) must not change what the next caller reads."""
    from hl7.segments import message_segments
    from tests.hl7.messages import wrap_oru

    latin = (
        wrap_oru("Ödem im Femurkondylus.", "MRT KNIE")
        .replace(b"|2.5.1", b"|2.5.1||||||8859/1", 1)  # MSH-18
        .replace("Ödem".encode(), "Ödem".encode("latin-1"))
    )
    assert parse_header(latin).character_set == "8859/1"
    for raw in (wrap_oru("Edema of the condyle."), latin):
        header = parse_header(raw)
        first = message_segments(raw, header)
        expected = split_segments(
            decode_message(raw, header.character_set),
            Delimiters.from_msh(header.field_separator, header.encoding_characters),
            header.character_set,
        )
        assert first == expected
        first.clear()
        assert message_segments(raw, header) == expected
    assert any("Ödem" in s.raw for s in message_segments(latin, parse_header(latin)))


def test_a_batch_of_messages_read_twice_is_split_once_each() -> None:
    """The worker reads a whole batch for results, then again for follow-up events: the
    second pass finds every message's segments remembered."""
    from hl7.segments import REMEMBERED_MESSAGES, _message_segments, message_segments
    from tests.hl7.messages import wrap_oru

    batch = [wrap_oru(f"Edema of the medial condyle, report {n}.") for n in range(64)]
    assert len(batch) <= REMEMBERED_MESSAGES
    _message_segments.cache_clear()
    for _ in range(2):
        for raw in batch:
            message_segments(raw, parse_header(raw))
    assert _message_segments.cache_info().misses == len(batch)
