"""hl7.mllp: framing, incremental decoding, junk, missing end block, maximum size."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hl7.errors import FrameTooLarge
from hl7.mllp import END_BLOCK, START_BLOCK, FrameDecoder, encode_frame
from tests.hl7.strategies import cut_points, junk, messages, payloads

MESSAGE = b"MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|20260101||ORU^R01|1|P|2.5.1\rPID|1\r"


def feed_in_pieces(decoder: FrameDecoder, stream: bytes, cuts: list[int]) -> list[bytes]:
    frames: list[bytes] = []
    start = 0
    for cut in sorted({min(c, len(stream)) for c in cuts} | {len(stream)}):
        frames.extend(decoder.feed(stream[start:cut]))
        start = cut
    return frames


def test_encode_frame_wraps_in_start_and_end_block() -> None:
    """encode_frame puts 0x0B before and 0x1C 0x0D after the message."""
    assert encode_frame(MESSAGE) == b"\x0b" + MESSAGE + b"\x1c\r"
    assert START_BLOCK == b"\x0b" and END_BLOCK == b"\x1c\r"


def test_split_at_every_offset() -> None:
    """Two frames split into two reads at any byte offset decode to the same payloads."""
    stream = encode_frame(MESSAGE) + encode_frame(MESSAGE.replace(b"|1|", b"|2|"))
    for offset in range(len(stream) + 1):
        decoder = FrameDecoder(1024)
        frames = decoder.feed(stream[:offset]) + decoder.feed(stream[offset:])
        assert frames == [MESSAGE, MESSAGE.replace(b"|1|", b"|2|")], offset
        assert decoder.pending_bytes == 0 and decoder.discarded_bytes == 0


def test_one_byte_at_a_time() -> None:
    """Feeding one byte per read yields each frame when its end block arrives."""
    decoder = FrameDecoder(1024)
    stream = encode_frame(MESSAGE)
    results = [decoder.feed(stream[i : i + 1]) for i in range(len(stream))]
    assert results[-1] == [MESSAGE]
    assert all(r == [] for r in results[:-1])


def test_pending_bytes_counts_a_started_frame() -> None:
    """pending_bytes is the size of the started frame's payload so far."""
    decoder = FrameDecoder(1024)
    decoder.feed(b"\x0bMSH|")
    assert decoder.pending_bytes == 4
    decoder.feed(b"x\x1c\r")
    assert decoder.pending_bytes == 0


def test_junk_and_nul_between_frames_are_discarded_and_counted() -> None:
    """NUL keep-alives, CR LF after an end block and noise are skipped and counted."""
    decoder = FrameDecoder(1024)
    stream = b"\x00\x00" + encode_frame(MESSAGE) + b"\n" + b"noise" + encode_frame(MESSAGE)
    assert decoder.feed(stream) == [MESSAGE, MESSAGE]
    assert decoder.discarded_bytes == 2 + 1 + 5


def test_lone_end_block_byte_inside_a_frame_is_payload() -> None:
    """A 0x1C not followed by CR does not end a frame."""
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"\x0bab\x1ccd\x1c\r") == [b"ab\x1ccd"]


def test_end_block_split_across_reads() -> None:
    """0x1C at the end of one read and CR at the start of the next end the frame."""
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"\x0b" + MESSAGE + b"\x1c") == []
    assert decoder.feed(b"\r") == [MESSAGE]


def test_close_returns_a_complete_unterminated_message() -> None:
    """At EOF a started frame that holds a whole message (MSH ... CR) is returned."""
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"\x0b" + MESSAGE) == []
    assert decoder.close() == MESSAGE


def test_close_drops_a_truncated_frame() -> None:
    """At EOF a frame cut mid-segment is dropped and counted as discarded."""
    decoder = FrameDecoder(1024)
    decoder.feed(b"\x0b" + MESSAGE[:-5])
    assert decoder.close() is None
    assert decoder.discarded_bytes == len(MESSAGE) - 5


def test_close_between_frames_returns_none() -> None:
    """close() with no started frame returns None."""
    decoder = FrameDecoder(1024)
    decoder.feed(encode_frame(MESSAGE) + b"\r\n")
    assert decoder.close() is None


def test_new_start_block_abandons_the_unterminated_frame() -> None:
    """A start block inside a frame ends it: kept if it looks whole, else dropped."""
    decoder = FrameDecoder(1024)
    frames = decoder.feed(b"\x0b" + MESSAGE + encode_frame(MESSAGE))
    assert frames == [MESSAGE, MESSAGE]
    decoder = FrameDecoder(1024)
    assert decoder.feed(b"\x0bMSH|cut" + encode_frame(MESSAGE)) == [MESSAGE]
    assert decoder.discarded_bytes == len(b"MSH|cut")


def test_frame_too_large_raises_and_recovers() -> None:
    """A frame beyond the maximum raises FrameTooLarge; the next frame decodes."""
    decoder = FrameDecoder(50)
    with pytest.raises(FrameTooLarge) as caught:
        decoder.feed(b"\x0b" + b"x" * 60)
    assert caught.value.limit == 50 and caught.value.size >= 51
    assert decoder.pending_bytes == 0
    assert decoder.feed(b"x" * 10 + b"\x1c\r" + encode_frame(b"MSH|ok\r")) == [b"MSH|ok\r"]


def test_frame_too_large_even_when_complete_in_one_read() -> None:
    """A whole oversized frame in one read raises too (the limit does not depend on reads)."""
    decoder = FrameDecoder(50)
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_frame(b"y" * 51))
    assert decoder.feed(encode_frame(b"MSH|ok\r")) == [b"MSH|ok\r"]


def test_frame_too_large_carries_earlier_frames_and_head() -> None:
    """Frames completed before an oversized one ride on the error, and so does its head."""
    decoder = FrameDecoder(50)
    with pytest.raises(FrameTooLarge) as caught:
        decoder.feed(encode_frame(b"MSH|a\r") + b"\x0bMSH|big|" + b"z" * 60)
    assert caught.value.frames == [b"MSH|a\r"]
    assert caught.value.head.startswith(b"MSH|big|")
    assert decoder.feed(b"zz\x1c\r" + encode_frame(b"MSH|b\r")) == [b"MSH|b\r"]


def test_bytes_after_an_oversized_complete_frame_stay_buffered() -> None:
    """A whole oversized frame raises; the frame after it in the same read comes next call."""
    decoder = FrameDecoder(50)
    with pytest.raises(FrameTooLarge) as caught:
        decoder.feed(encode_frame(b"MSH|" + b"y" * 60) + encode_frame(b"MSH|c\r"))
    assert caught.value.frames == [] and caught.value.head.startswith(b"MSH|yyy")
    assert decoder.feed(b"") == [b"MSH|c\r"]


def test_max_frame_bytes_is_inclusive() -> None:
    """A payload of exactly max_frame_bytes is accepted."""
    decoder = FrameDecoder(10)
    assert decoder.feed(encode_frame(b"0123456789")) == [b"0123456789"]


def test_max_frame_bytes_must_be_positive() -> None:
    """A zero or negative maximum is a programming error."""
    with pytest.raises(ValueError):
        FrameDecoder(0)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(payloads, max_size=6),
    gaps=st.lists(junk, min_size=7, max_size=7),
    cuts=cut_points,
)
def test_any_frames_with_junk_split_anywhere(
    frames: list[bytes], gaps: list[bytes], cuts: list[int]
) -> None:
    """Frames with junk between them, split at arbitrary points, decode to the payloads."""
    stream = b"".join(gap + encode_frame(frame) for gap, frame in zip(gaps, frames, strict=False))
    stream += gaps[-1]
    decoder = FrameDecoder(400)
    assert feed_in_pieces(decoder, stream, cuts) == frames
    assert decoder.discarded_bytes == sum(len(g) for g in gaps[: len(frames)]) + len(gaps[-1])
    assert decoder.pending_bytes == 0


@settings(max_examples=100, deadline=None)
@given(frames=st.lists(messages, min_size=1, max_size=5))
def test_several_frames_in_one_read(frames: list[bytes]) -> None:
    """All frames in one read come out in order."""
    decoder = FrameDecoder(1000)
    assert decoder.feed(b"".join(encode_frame(f) for f in frames)) == frames


@settings(max_examples=100, deadline=None)
@given(message=messages, cuts=cut_points)
def test_missing_end_block_at_eof(message: bytes, cuts: list[int]) -> None:
    """A whole message without end block is recovered at EOF, however it was split."""
    decoder = FrameDecoder(1000)
    assert feed_in_pieces(decoder, b"\x0b" + message, cuts) == []
    assert decoder.close() == message


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=200),
    limit=st.integers(min_value=1, max_value=200),
    cuts=cut_points,
)
def test_max_size_holds_however_split(size: int, limit: int, cuts: list[int]) -> None:
    """A payload over the limit raises FrameTooLarge; at or under it decodes."""
    decoder = FrameDecoder(limit)
    stream = encode_frame(b"p" * size)
    if size > limit:
        with pytest.raises(FrameTooLarge):
            feed_in_pieces(decoder, stream, cuts)
    else:
        assert feed_in_pieces(decoder, stream, cuts) == [b"p" * size]


def test_a_frame_at_the_limit_cut_inside_its_end_block_decodes() -> None:
    """Found by Hypothesis (size=1, limit=1, cuts=[3]): the end block's 0x1C is not payload."""
    for size in (1, 7):
        decoder = FrameDecoder(size)
        stream = encode_frame(b"p" * size)
        assert decoder.feed(stream[: size + 2]) == []  # start block, payload, 0x1C
        assert decoder.feed(stream[size + 2 :]) == [b"p" * size]
    with pytest.raises(FrameTooLarge):
        FrameDecoder(1).feed(encode_frame(b"pp")[:3])


def _outcome(decoder: FrameDecoder, data: bytes) -> tuple[object, int, int, int]:
    """What one `feed` returns or raises, and the decoder's counts after it."""
    try:
        result: object = decoder.feed(data)
    except FrameTooLarge as e:
        result = ("too large", e.frames, e.head)
    return result, decoder.pending_bytes, decoder.discarded_bytes, decoder.noise_bytes


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(st.sampled_from([b"MSH|x", b"\x0b", b"\x1c", b"\r", b"\x1c\r", b"\x00", b"a"])),
    limit=st.integers(min_value=1, max_value=12),
    then=st.sampled_from([b"", b"\x0bMSH|y\x1c\r", b"\x1c\r", b"\x0b"]),
)
def test_a_read_of_one_whole_frame_decodes_as_any_other_read(
    body: list[bytes], limit: int, then: bytes
) -> None:
    """The shortcut for a read that is exactly one frame agrees with the general loop.

    The same bytes go to a decoder that takes the shortcut (one read) and to one that
    cannot (a first read holding only the start block), then more bytes to both: the
    same frames, errors and counts.
    """
    data = START_BLOCK + b"".join(body) + END_BLOCK
    whole, split = FrameDecoder(limit), FrameDecoder(limit)
    shortcut = _outcome(whole, data)
    first = split.feed(data[:1])
    general = _outcome(split, data[1:])
    assert first == []
    assert shortcut == general
    assert _outcome(whole, then) == _outcome(split, then)
