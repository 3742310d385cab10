"""Messages out of a file: one message, several, a FHS/BHS batch, or MLLP-framed bytes.

For `radflag annotate FILE.hl7` and other offline tools: a file is split into
messages at each MSH that starts a segment; batch envelope segments (FHS, BHS,
BTS, FTS) are dropped; MLLP block characters are removed.
"""

from __future__ import annotations

import re

_ENVELOPE = re.compile(rb"^(?:FHS|BHS|BTS|FTS)\W")
# An LF ends a segment only before a segment name; otherwise it is a line break in a value.
_SEGMENT_END = re.compile(rb"\r\n?|\n(?=[A-Z][A-Z0-9]{2}[^A-Za-z0-9\s])")


def looks_like_hl7(data: bytes) -> bool:
    """True when the bytes start (after MLLP framing and blank lines) with MSH, FHS or BHS."""
    return data.lstrip(b"\x0b\x1c\r\n\t \x00\xef\xbb\xbf").startswith((b"MSH", b"FHS", b"BHS"))


def split_messages(data: bytes) -> list[bytes]:
    """The messages in a file, each with CR segment terminators (the wire form)."""
    messages: list[list[bytes]] = []
    for line in _SEGMENT_END.split(data.replace(b"\x0b", b"\r").replace(b"\x1c", b"\r")):
        if not line.strip() or _ENVELOPE.match(line):
            continue
        if line.startswith(b"MSH"):
            messages.append([])
        if messages:
            messages[-1].append(line)
    return [b"\r".join(segments) + b"\r" for segments in messages]
