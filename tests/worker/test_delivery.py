"""The MLLP client (`worker.delivery`), backoff, message files, and `radflag send`."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hl7.ack import build_ack
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.messages import wrap_oru
from tests.servers import MllpDestination
from worker.cli import main
from worker.delivery import (
    DeliveryError,
    DeliveryRejected,
    backoff_delay,
    deliver,
    send_message,
    split_messages,
)

MESSAGE = wrap_oru("Findings: no edema.", control_id="OUT1")


class _ScriptedReceiver:
    """Answers each message with ACKs for the given control ids (None: the message's own)."""

    def __init__(self, acked_ids: list[str | None]) -> None:
        self.acked_ids = acked_ids
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.settimeout(5)
            decoder = FrameDecoder(1 << 20)
            frames: list[bytes] = []
            while not frames:
                frames = decoder.feed(conn.recv(65536))
            header = parse_header(frames[0])
            for acked in self.acked_ids:
                target = header if acked is None else _with_control_id(header, acked)
                ack = build_ack(target, "AA", control_id="X1", timestamp=datetime.now(UTC))
                conn.sendall(encode_frame(ack))
            with contextlib.suppress(OSError):
                conn.recv(1)  # hold the connection until the client closes it

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


def _with_control_id(header, control_id):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(header, control_id=control_id)


@pytest.fixture
def scripted() -> Iterator[type[_ScriptedReceiver]]:
    made: list[_ScriptedReceiver] = []

    class Factory(_ScriptedReceiver):
        def __init__(self, acked_ids: list[str | None]) -> None:
            super().__init__(acked_ids)
            made.append(self)

    yield Factory
    for receiver in made:
        receiver.close()


def test_late_foreign_ack_is_skipped(scripted: type[_ScriptedReceiver]) -> None:
    """An ACK naming another message comes first: it is skipped, ours confirms."""
    receiver = scripted(["SOMETHING-ELSE", None])
    ack = send_message(("127.0.0.1", receiver.port), MESSAGE, "OUT1", timeout=5)
    assert (ack.code, ack.acked_control_id) == ("AA", "OUT1")


def test_only_a_foreign_ack_never_confirms(scripted: type[_ScriptedReceiver]) -> None:
    """Only an ACK for another control id: a timeout, not a confirmation."""
    receiver = scripted(["SOMETHING-ELSE"])
    with pytest.raises(DeliveryError):
        send_message(("127.0.0.1", receiver.port), MESSAGE, "OUT1", timeout=0.5)


def test_refused_connection_is_transient() -> None:
    """Nobody listening: DeliveryError (retried), not a crash."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError):
        deliver(("127.0.0.1", port), MESSAGE, "OUT1", timeout=1)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AE", DeliveryError),
        ("AR", DeliveryRejected),
        ("CE", DeliveryError),
        ("CR", DeliveryRejected),
    ],
)
def test_negative_answers_classified(
    destination: MllpDestination, code: str, error: type[Exception]
) -> None:
    """AE/CE are retried (transient), AR/CR are not (permanent)."""
    destination.code = code
    with pytest.raises(error):
        deliver(("127.0.0.1", destination.port), MESSAGE, "OUT1", timeout=5)


def test_accepted(destination: MllpDestination) -> None:
    """AA confirms and the destination holds the message."""
    ack = deliver(("127.0.0.1", destination.port), MESSAGE, "OUT1", timeout=5)
    assert ack.code == "AA" and destination.received == [MESSAGE]


def test_backoff_grows_and_is_capped() -> None:
    """Delays double per attempt within [c/2, c] and never exceed the cap."""
    rng = random.Random(7)
    for attempt in range(1, 40):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        delay = backoff_delay(attempt, base=2.0, cap=60.0, rng=rng)
        assert ceiling / 2 <= delay <= ceiling
    spread = {round(backoff_delay(8, base=2.0, cap=60.0, rng=rng), 3) for _ in range(20)}
    assert len(spread) > 10  # jittered


def test_split_messages_framed_and_blank_line_separated() -> None:
    """MLLP-framed files give their frames; plain files split at each MSH, LF -> CR."""
    one, two = wrap_oru("a", control_id="F1"), wrap_oru("b", control_id="F2")
    assert split_messages(encode_frame(one) + b"\n" + encode_frame(two)) == [one, two]
    plain = one.replace(b"\r", b"\n") + b"\n\n" + two.replace(b"\r", b"\r\n") + b"\r\n"
    assert split_messages(plain) == [one, two]
    assert split_messages(one.replace(b"\r", b"\n") + two) == [one, two]
    assert split_messages(b"\n\n") == []


def test_send_prints_each_ack(tmp_path: Path, destination: MllpDestination) -> None:
    """`radflag send` prints one line per message with its ACK code; AR makes it exit 1."""
    path = tmp_path / "two.hl7"
    path.write_bytes(wrap_oru("a", control_id="S1") + b"\n" + wrap_oru("b", control_id="S2"))
    result = CliRunner().invoke(main, ["send", str(path), "--to", destination.address])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{path}: S1 AA", f"{path}: S2 AA"]
    destination.code = "AR"
    rejected = CliRunner().invoke(main, ["send", str(path), "--to", destination.address])
    assert rejected.exit_code == 1 and "S1 AR" in rejected.output
