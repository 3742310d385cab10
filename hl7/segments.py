"""A decoded message split into segments and fields, by hand.

Strategy: what real senders do (LF or CRLF between segments, trailing
separators, extra fields, Z segments, `""` nulls, non-standard values) is
exactly what a schema-driven parser trips over, and hl7apy's full parse costs
10 to 90 ms per report here. Reading a report only needs positions: split on
segment terminators, then on the message's own delimiters, and unescape the
leaf values last. Fields stay raw (escaped) until asked for, so a segment can
also be copied into the result as received.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hl7.model import MessageHeader
from hl7.text import Delimiters, decode_message, unescape

HL7_NULL = '""'
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")


@dataclass(frozen=True)
class Segment:
    """One segment: its name and raw fields, where `fields[n]` is field n (MSH included)."""

    name: str
    fields: tuple[str, ...]
    raw: str
    delimiters: Delimiters
    character_set: str = ""

    def field(self, number: int) -> str:
        """Field `number` as received (escaped), "" when absent or the HL7 null."""
        value = self.fields[number] if 0 < number < len(self.fields) else ""
        return "" if value == HL7_NULL else value

    def repetitions(self, number: int) -> list[str]:
        """The repetitions of a field, as received."""
        return self.field(number).split(self.delimiters.repetition)

    def component(self, number: int, component: int = 1) -> str:
        """Component `component` (1-based) of the first repetition of a field, unescaped."""
        first = self.field(number).split(self.delimiters.repetition, 1)[0]
        parts = first.split(self.delimiters.component)
        value = parts[component - 1] if component <= len(parts) else ""
        return "" if value == HL7_NULL else self.unescape(value).strip()

    def unescape(self, value: str) -> str:
        """Undo HL7 escapes in a value of this segment."""
        return unescape(value, self.delimiters, self.character_set)


def split_segments(text: str, delimiters: Delimiters, character_set: str = "") -> list[Segment]:
    """Split a decoded message into segments (CR, LF or CRLF between them; blank lines skipped).

    An LF ends a segment only when a segment name and field separator follow it;
    any other LF is a raw line break inside a value (report text) and stays there.
    """
    boundary = re.compile(r"\r\n?|\n(?=[A-Z][A-Z0-9]{2}" + re.escape(delimiters.field) + ")")
    segments = []
    for raw in boundary.split(text):
        line = raw.lstrip("\n\x00\x0b ").rstrip("\n\x1c")
        if not line.strip():
            continue
        name = line[:3]
        if not _SEGMENT_NAME.match(name):
            continue  # a fragment (e.g. a stray line break inside a value): not a segment
        fields = line.split(delimiters.field)
        if name == "MSH":
            # MSH-1 is the field separator itself: shift so fields[n] is MSH-n.
            fields = ["MSH", delimiters.field, *fields[1:]]
        segments.append(Segment(name, tuple(fields), line, delimiters, character_set))
    return segments


# An annotate batch's messages (64 by default), with room for a larger cap: a smaller
# memory split each message twice per batch.
REMEMBERED_MESSAGES = 128


def message_segments(message: bytes, header: MessageHeader) -> list[Segment]:
    """A whole message's segments, decoded per its MSH-18 (`header` is its parsed MSH).

    Remembered for the last `REMEMBERED_MESSAGES` messages: the worker reads a
    batch's reports for their results, then all of them again for their
    follow-up events.
    """
    return list(
        _message_segments(
            message, header.field_separator, header.encoding_characters, header.character_set
        )
    )


@functools.lru_cache(maxsize=REMEMBERED_MESSAGES)
def _message_segments(
    message: bytes, field_separator: str, encoding_characters: str, character_set: str
) -> tuple[Segment, ...]:
    delimiters = Delimiters.from_msh(field_separator, encoding_characters)
    text = decode_message(message, character_set)
    return tuple(split_segments(text, delimiters, character_set))
