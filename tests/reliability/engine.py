"""A sending integration engine for the reliability tests: resends until AA, like Mirth.

Each message goes out on one persistent MLLP connection; an AE/CE, no answer
within `ack_timeout` or a broken connection means: reconnect, wait a little,
send the same message again (bounded by `max_attempts`). Every outcome is
recorded with its time so that a test can count ACKs against what arrived.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from hl7.ack import parse_ack
from hl7.mllp import FrameDecoder, encode_frame


@dataclass
class Outcome:
    control_id: str
    codes: list[str] = field(default_factory=list)  # one per attempt: AA, AE, ..., or "none"
    acked_at: float | None = None  # time.monotonic() of the AA/CA

    @property
    def acked(self) -> bool:
        return self.acked_at is not None


@dataclass
class ResendingSender:
    port: int
    ack_timeout: float = 3.0
    retry_pause: float = 0.1
    max_attempts: int = 400
    _sock: socket.socket | None = None
    _decoder: FrameDecoder = field(default_factory=lambda: FrameDecoder(1 << 20))

    def send(self, control_id: str, message: bytes) -> Outcome:
        outcome = Outcome(control_id)
        for _ in range(self.max_attempts):
            code = self._attempt(message)
            outcome.codes.append(code)
            if code in ("AA", "CA"):
                outcome.acked_at = time.monotonic()
                return outcome
            if code in ("AR", "CR"):
                return outcome  # never resent: the receiver refused it for good
            self.close()
            time.sleep(self.retry_pause)
        return outcome

    def _attempt(self, message: bytes) -> str:
        try:
            if self._sock is None:
                self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                self._decoder = FrameDecoder(1 << 20)
            sock = self._sock
            sock.sendall(encode_frame(message))
            deadline = time.monotonic() + self.ack_timeout
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                data = sock.recv(65536)
                if not data:
                    return "none"
                frames = self._decoder.feed(data)
                if frames:
                    return parse_ack(frames[0]).code
        except OSError:
            return "none"
        return "none"

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
