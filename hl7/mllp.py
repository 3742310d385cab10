"""MLLP framing: an encoder and an incremental decoder that never touch a socket.

Strategy: the listener pushes whatever bytes a read returned into
`FrameDecoder.feed` and gets back the payloads of the frames those bytes
completed (h11 style: bytes in, events out). The decoder keeps one buffer and
one flag (inside a frame or between frames):

- between frames, everything up to the next start block (0x0B) is junk: NUL
  keep-alives, stray CR/LF after an end block, noise. It is dropped and counted
  in `discarded_bytes`, never an error, so a sloppy sender cannot stall us;
- inside a frame, the payload runs to the end block (0x1C 0x0D). A start block
  inside a frame means the sender gave up on that frame and began another: the
  abandoned part is kept only if it looks like a whole message (the same rule as
  at EOF, see `close`);
- a frame that grows beyond `max_frame_bytes` before its end block raises
  `FrameTooLarge`, so memory per connection is bounded. The oversized frame is
  dropped and the decoder waits for the next start block. The error carries the
  frame's first bytes (`head`, for the MSH a negative ACK needs) and the frames
  completed earlier in the same read (`frames`): raising at once, rather than
  on a later call that may never come, means no sender waits for an answer
  that the decoder is sitting on; a listener that ignores `frames` leaves them
  unanswered, and the sender resends them.

Searching restarts where the previous search stopped (minus one byte, for an end
block split between two reads), so feeding a frame one byte at a time stays
linear.
"""

from __future__ import annotations

from hl7.errors import FrameTooLarge

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"

HEAD_BYTES = 4096  # how much of an oversized frame FrameTooLarge.head keeps

_BLANK = b"\x00\t\n\r "  # keep-alives and line ends between frames: junk, not noise
_NEED_MORE = object()
_ABANDONED = object()


def encode_frame(message: bytes) -> bytes:
    """Wrap one HL7 message in an MLLP frame (0x0B message 0x1C 0x0D)."""
    return START_BLOCK + message + END_BLOCK


def looks_complete(payload: bytes) -> bool:
    """True when an unterminated frame still holds what looks like a whole message.

    A message starts with MSH and its last segment ends with a segment
    terminator; a frame cut mid-segment does not.
    """
    body = payload.lstrip(b"\r\n")
    return body.startswith(b"MSH") and body.endswith((b"\r", b"\n"))


class FrameDecoder:
    """Incremental MLLP decoder: `feed(bytes)` returns the payloads of completed frames."""

    def __init__(self, max_frame_bytes: int) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self.max_frame_bytes = max_frame_bytes
        self.discarded_bytes = 0
        # Of those, bytes that are not NUL or white space: text such as an HTTP request
        # means the peer does not speak MLLP (the listener closes such a connection).
        self.noise_bytes = 0
        self._buffer = bytearray()
        self._in_frame = False
        self._scanned = 0  # bytes of the current frame already searched for the end block

    @property
    def pending_bytes(self) -> int:
        """Bytes of a started frame waiting for its end block (0 between frames)."""
        return len(self._buffer) if self._in_frame else 0

    def feed(self, data: bytes) -> list[bytes]:
        """Take the bytes of one read; return the payloads of the frames they completed.

        Raises FrameTooLarge when a frame exceeds `max_frame_bytes`, with the frames
        completed before it in `frames`; bytes after the oversized frame stay
        buffered for the next call.
        """
        if not self._buffer and not self._in_frame and self._whole_frame(data):  # the usual read
            return [data[1 : -len(END_BLOCK)]]
        self._buffer += data
        frames: list[bytes] = []
        while self._buffer:
            if not self._in_frame and not self._enter_frame():
                break
            outcome = self._take_frame()
            if outcome is _NEED_MORE:
                break
            if isinstance(outcome, FrameTooLarge):
                outcome.frames = frames
                raise outcome
            if isinstance(outcome, bytes):
                frames.append(outcome)
        return frames

    def _whole_frame(self, data: bytes) -> bool:
        """`data` is exactly one frame within the size limit: what the loop below would take."""
        end = len(data) - len(END_BLOCK)
        return (
            data[:1] == START_BLOCK
            and 0 < end <= self.max_frame_bytes + 1
            and data.find(END_BLOCK, 1) == end
            and data.find(START_BLOCK, 1) < 0
        )

    def close(self) -> bytes | None:
        """At EOF: the payload of an unterminated frame if it looks complete, else None."""
        payload = bytes(self._buffer) if self._in_frame else b""
        if not self._in_frame:
            self.discarded_bytes += len(self._buffer)
        self._reset()
        if payload and looks_complete(payload):
            return payload
        self.discarded_bytes += len(payload)
        return None

    def _enter_frame(self) -> bool:
        start = self._buffer.find(START_BLOCK)
        if start < 0:
            self._discard(len(self._buffer))
            return False
        self._discard(start)
        del self._buffer[:1]
        self._in_frame = True
        self._scanned = 0
        return True

    def _discard(self, count: int) -> None:
        """Drop the first `count` bytes of the buffer as junk between frames."""
        junk = bytes(self._buffer[:count])
        self.discarded_bytes += count
        self.noise_bytes += len(junk.translate(None, _BLANK))
        del self._buffer[:count]

    def _take_frame(self) -> bytes | FrameTooLarge | object:
        """A payload, FrameTooLarge, _NEED_MORE, or _ABANDONED (frame cut by a start block)."""
        search_from = max(0, self._scanned - 1)
        end = self._buffer.find(END_BLOCK, search_from)
        restart = self._buffer.find(START_BLOCK, search_from)
        if restart >= 0 and (end < 0 or restart < end):
            return self._abandon(restart)
        if end < 0:
            # A trailing 0x1C may be the first byte of the end block, not payload.
            held = len(self._buffer) - self._buffer.endswith(END_BLOCK[:1])
            if held > self.max_frame_bytes:
                return self._drop_oversized(len(self._buffer))
            self._scanned = len(self._buffer)
            return _NEED_MORE
        if end > self.max_frame_bytes:
            error = self._too_large(end)
            del self._buffer[: end + len(END_BLOCK)]
            self._reset(keep_buffer=True)
            return error
        payload = bytes(self._buffer[:end])
        del self._buffer[: end + len(END_BLOCK)]
        self._reset(keep_buffer=True)
        return payload

    def _abandon(self, restart: int) -> bytes | FrameTooLarge | object:
        # The sender began a new frame without ending this one.
        if restart > self.max_frame_bytes:
            error = self._too_large(restart)
            del self._buffer[:restart]
            self._reset(keep_buffer=True)
            return error
        fragment = bytes(self._buffer[:restart])
        del self._buffer[:restart]
        self._reset(keep_buffer=True)
        if looks_complete(fragment):
            return fragment
        self.discarded_bytes += len(fragment)
        return _ABANDONED

    def _drop_oversized(self, size: int) -> FrameTooLarge:
        # The rest of the oversized frame arrives later and is skipped as junk.
        error = self._too_large(size)
        self._reset()
        return error

    def _too_large(self, size: int) -> FrameTooLarge:
        error = FrameTooLarge(size, self.max_frame_bytes)
        error.head = bytes(self._buffer[:HEAD_BYTES])
        return error

    def _reset(self, *, keep_buffer: bool = False) -> None:
        if not keep_buffer:
            self._buffer.clear()
        self._in_frame = False
        self._scanned = 0
