"""Sending HL7 over MLLP and reading the answer: the result delivery and `radflag send`.

Strategy: blocking sockets with a deadline (the workers are synchronous pool
processes). The workers keep one connection per destination open
(`MllpConnections`), as MLLP senders do; `radflag send` and `send_message`
use one short-lived connection per message. An answer counts
only when its MSA-2 names the MSH-10 we sent: an ACK left over from an earlier
message (a late answer on a reused connection at the destination's side, a
proxy replaying) is skipped and we keep waiting until the deadline, so a late
ACK never confirms the wrong message.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import ssl
import time

from hl7.ack import parse_ack
from hl7.errors import FrameTooLarge, InboundMessageError, PermanentError, TransientError
from hl7.mllp import FrameDecoder, encode_frame
from hl7.model import AckInfo

MAX_ACK_BYTES = 1024 * 1024


class DeliveryError(TransientError):
    """The destination did not accept the message this time (AE/CE, timeout, refused)."""


class DeliveryRejected(PermanentError):
    """The destination answered AR/CR: resending the same message cannot help."""

    def __init__(self, message: str, ack: AckInfo) -> None:
        super().__init__(message)
        self.ack = ack


def send_message(
    address: tuple[str, int],
    message: bytes,
    control_id: str,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
) -> AckInfo:
    """Send one message and return the ACK whose MSA-2 equals `control_id`.

    With `ssl_context` the connection is TLS, the server checked against the
    context's CAs and host name. Raises DeliveryError on refused connection,
    timeout, a failed TLS handshake or a connection closed without a matching ACK.
    """
    deadline = time.monotonic() + timeout
    try:
        with _connect(address, timeout, ssl_context) as sock:
            sock.sendall(encode_frame(message))
            return _await_ack(sock, control_id, deadline)
    except TimeoutError as e:
        raise DeliveryError(f"no ACK for {control_id} within {timeout:g} s") from e
    except OSError as e:
        raise DeliveryError(f"cannot deliver {control_id} to {address[0]}:{address[1]}: {e}") from e


def deliver(
    address: tuple[str, int],
    message: bytes,
    control_id: str,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    connections: MllpConnections | None = None,
) -> AckInfo:
    """Send (over TLS with `ssl_context`) and classify the answer: AA/CA returns the ACK.

    With `connections` the message goes over that pool's open connection to the
    destination (MLLP senders keep theirs open); else over a connection of its own.
    Raises DeliveryRejected for AR/CR and DeliveryError for AE/CE and transport failures.
    """
    if connections is not None:
        ack = connections.send(address, message, control_id, timeout=timeout,
                               ssl_context=ssl_context)  # fmt: skip
    else:
        ack = send_message(address, message, control_id, timeout=timeout, ssl_context=ssl_context)
    if ack.code in ("AA", "CA"):
        return ack
    detail = f"{ack.code} for {control_id}" + (f": {ack.text}" if ack.text else "")
    if ack.code in ("AR", "CR"):
        raise DeliveryRejected(detail, ack)
    raise DeliveryError(detail)


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Capped exponential backoff with jitter: uniform(c/2, c), c = min(cap, base * 2**(attempt-1)).

    The jitter spreads the retries of many results that failed together (the
    destination went down) instead of hammering it in waves; the lower half is
    cut off so that a retry never comes right away.
    """
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 32))
    return (rng or random).uniform(ceiling / 2, ceiling)


def split_messages(data: bytes) -> list[bytes]:
    """The messages in a file: its MLLP frames, else one message from each MSH segment on.

    Unframed files may separate messages by blank lines or not at all; segment
    ends (CR LF, LF) are normalised to CR, as HL7 requires on the wire.
    """
    if b"\x0b" in data:
        decoder = FrameDecoder(max(len(data), 1))
        frames = decoder.feed(data)
        leftover = decoder.close()
        return frames + ([leftover] if leftover else [])
    segments = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    messages: list[list[bytes]] = []
    for segment in segments:
        if not segment.strip():
            continue
        if segment.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [b"\r".join(m) + b"\r" for m in messages]


class MllpConnections:
    """One open MLLP connection per destination, reused message after message (one process).

    A connection the destination closed while idle shows only when we use it: the
    ACK read finds it closed before any byte came back. Then the message goes once
    more over a new connection (the same MSH-10: a destination that did take it
    recognises the repeat). Any other failure closes the connection; the next
    message opens a new one. Not shared between processes or threads.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[tuple[str, int], int], socket.socket] = {}
        self._pid = os.getpid()

    def send(
        self,
        address: tuple[str, int],
        message: bytes,
        control_id: str,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> AckInfo:
        """Like `send_message`, over the kept connection; raises DeliveryError the same way."""
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
            self._open, self._pid = {}, os.getpid()
        key = (address, id(ssl_context))
        deadline = time.monotonic() + timeout
        for attempt in (1, 2):
            sock = self._open.pop(key, None)
            reused = sock is not None
            try:
                if sock is None:
                    sock = _connect(address, max(0.01, deadline - time.monotonic()), ssl_context)
                sock.sendall(encode_frame(message))
                ack = _await_ack(sock, control_id, deadline)
            except _ClosedBeforeAnswer as e:
                _close(sock)
                if reused and attempt == 1:
                    continue  # the destination had closed it while idle
                raise DeliveryError(str(e)) from e
            except TimeoutError as e:
                _close(sock)
                raise DeliveryError(f"no ACK for {control_id} within {timeout:g} s") from e
            except DeliveryError:
                _close(sock)
                raise
            except OSError as e:
                _close(sock)
                if reused and attempt == 1:
                    continue  # a reset on a kept connection: once more on a new one
                raise DeliveryError(
                    f"cannot deliver {control_id} to {address[0]}:{address[1]}: {e}"
                ) from e
            self._open[key] = sock
            return ack
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every kept connection."""
        for sock in self._open.values():
            _close(sock)
        self._open.clear()


class _ClosedBeforeAnswer(DeliveryError):
    """The connection closed before any byte of an answer came back."""


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _connect(
    address: tuple[str, int], timeout: float, ssl_context: ssl.SSLContext | None
) -> socket.socket:
    sock = socket.create_connection(address, timeout=timeout)
    if ssl_context is None:
        return sock
    try:
        # The handshake runs here, under the socket's timeout.
        return ssl_context.wrap_socket(sock, server_hostname=address[0])
    except BaseException:
        sock.close()
        raise


def _await_ack(sock: socket.socket, control_id: str, deadline: float) -> AckInfo:
    decoder = FrameDecoder(MAX_ACK_BYTES)
    received = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            closed = _ClosedBeforeAnswer if not received else DeliveryError
            raise closed(f"connection closed before the ACK for {control_id}")
        received = True
        try:
            frames = decoder.feed(data)
        except FrameTooLarge as e:
            raise DeliveryError(f"answer to {control_id} is not an ACK: {e}") from e
        for frame in frames:
            try:
                ack = parse_ack(frame)
            except InboundMessageError:
                continue  # not an ACK: keep waiting for ours
            if ack.acked_control_id == control_id:
                return ack
