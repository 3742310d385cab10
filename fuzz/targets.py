"""One function per fuzz target: bytes in, an AssertionError or an unexpected exception out
when radflag's code misbehaves. Expected refusals (FrameTooLarge, InboundMessageError) pass.

Invariants checked, beyond "does not crash":
- mllp: the frames do not depend on how the bytes were split into reads; no frame
  exceeds the limit; a payload without control bytes survives encode + decode.
- header: a header that parses can always be answered: its ACK parses back and
  acknowledges its control id (the listener answers every frame).
- extract: `screen` and `extract_report` refuse with InboundMessageError only.
- annotate: mentions lie inside the text and quote it exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from hl7.ack import build_ack, parse_ack
from hl7.errors import FrameTooLarge, InboundMessageError
from hl7.extract import extract_report, screen
from hl7.header import parse_header
from hl7.mllp import END_BLOCK, START_BLOCK, FrameDecoder, encode_frame

MLLP_LIMIT = 512
ANNOTATE_MAX_CHARS = 2000  # modest: NLP growth with length is the lead's (issue 15, item 3)
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _decode_all(data: bytes, chunk: int) -> list[bytes] | None:
    decoder = FrameDecoder(MLLP_LIMIT)
    frames: list[bytes] = []
    try:
        for start in range(0, len(data), chunk):
            frames.extend(decoder.feed(data[start : start + chunk]))
    except FrameTooLarge:
        return None
    return frames


def mllp(data: bytes) -> None:
    if not data:
        return
    chunk = 1 + data[0] % 17
    body = data[1:]
    whole, split = _decode_all(body, len(body) or 1), _decode_all(body, chunk)
    if whole is not None and split is not None:
        assert whole == split, "frames depend on how the bytes arrived"
    for frames in (whole, split):
        for frame in frames or []:
            assert len(frame) <= MLLP_LIMIT, "a frame over the limit was returned"
    payload = body.replace(START_BLOCK, b"").replace(END_BLOCK[:1], b"")[:MLLP_LIMIT]
    if payload:
        assert FrameDecoder(MLLP_LIMIT).feed(encode_frame(payload)) == [payload]


def header(data: bytes) -> None:
    try:
        parsed = parse_header(data)
    except InboundMessageError:
        return
    for code in ("AA", "AE", "AR"):
        ack = build_ack(parsed, code, control_id="A1", timestamp=_T0)
        info = parse_ack(ack)  # our own ACK must read back (radflag send reads ACKs)
        assert info.code in (code, "C" + code[1]), (code, info.code)
        # MSA-2 carries MSH-10 escaped where it holds delimiters; read back, it is MSH-10.
        assert info.acked_control_id == parsed.control_id.strip(), "ACK names another message"


def extract(data: bytes) -> None:
    try:
        parsed = parse_header(data)
        screen(data, parsed)
    except InboundMessageError:
        pass
    with contextlib.suppress(InboundMessageError):
        extract_report(data)


def annotate(data: bytes) -> None:
    import nlp

    text = data.decode("utf-8", "replace")[:ANNOTATE_MAX_CHARS]
    language = None if not data else ("de" if data[0] % 4 == 0 else None)
    result = nlp.annotate(text, language=language)
    for mention in result.mentions:
        assert 0 <= mention.start <= mention.end <= len(text), "mention outside the text"
        assert text[mention.start : mention.end] == mention.text, "mention misquotes the text"


TARGETS: dict[str, Callable[[bytes], None]] = {
    "mllp": mllp,
    "header": header,
    "extract": extract,
    "annotate": annotate,
}
