"""The MLLP listener in this process against a real redis-server, over real loopback sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

from hl7.ack import parse_ack
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.conftest import FIXTURES
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, run_listener
from worker import intake_batches, keys
from worker.listener import MAX_WAITING_FRAMES, Intake, MllpListener
from worker.settings import Settings

pytestmark = pytest.mark.integration

REPORT = "Findings: bone marrow edema in the medial femoral condyle."


def _run(
    settings: Settings,
    redis_server: RedisServer,
    scenario: Callable[[MllpListener], Awaitable[Any]],
    *,
    slow: bool = False,
) -> Any:
    intake = _SlowIntake if slow else None
    return run_listener(settings, redis_server.url, scenario, intake_class=intake)


async def _exchange(port: int, chunks: list[bytes], expected: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
    decoder = FrameDecoder(1 << 20)
    answers: list[bytes] = []
    async with asyncio.timeout(10):
        while len(answers) < expected:
            data = await reader.read(65536)
            if not data:
                break
            answers.extend(decoder.feed(data))
    writer.close()
    return answers


def _codes(answers: list[bytes]) -> list[tuple[str, str]]:
    return [(a.code, a.acked_control_id) for a in map(parse_ack, answers)]


def test_pipelined_frames_answered_in_order(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Ten frames in one write get ten AAs in order, and ten tasks are queued."""
    messages = [wrap_oru(REPORT, control_id=f"P{i}") for i in range(10)]
    blob = b"".join(encode_frame(m) for m in messages)
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, [blob], 10))
    assert _codes(answers) == [("AA", f"P{i}") for i in range(10)]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 10


def test_a_long_pipeline_pauses_reading_and_is_answered_in_order(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """More frames at once than a connection keeps waiting (its reading pauses, then goes on),
    with an order and a bad frame among them: every answer in order, each report queued once."""
    count = 3 * MAX_WAITING_FRAMES + 5
    frames = [encode_frame(wrap_oru(REPORT, control_id=f"L{i}")) for i in range(count)]
    frames[7] = encode_frame(b"PID|1||X\r")  # no MSH: AR, and the pipeline goes on
    blob = b"".join(frames)
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, [blob], count))
    codes = _codes(answers)
    assert len(codes) == count
    assert codes[7][0] == "AR"
    assert [c for i, c in enumerate(codes) if i != 7] == [
        ("AA", f"L{i}") for i in range(count) if i != 7
    ]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == count - 1


def test_frame_split_at_every_byte(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A frame sent one byte per write is still one message."""
    frame = encode_frame(wrap_oru(REPORT, control_id="SPLIT1"))
    chunks = [frame[i : i + 1] for i in range(len(frame))]
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, chunks, 1))
    assert _codes(answers) == [("AA", "SPLIT1")]
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1


def test_duplicate_acknowledged_but_queued_once(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The same MSH-3/4/10 twice: AA twice, one task; another control id is queued."""
    first = wrap_oru(REPORT, control_id="DUP1")
    other = wrap_oru(REPORT, control_id="DUP2")
    blob = b"".join(encode_frame(m) for m in (first, first, other))
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, [blob], 3))
    assert _codes(answers) == [("AA", "DUP1"), ("AA", "DUP1"), ("AA", "DUP2")]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 2
    assert redis_client.ttl(keys.dedupe_redis_key("RIS|GENHOSP|DUP1")) > 0


def test_unsupported_type_rejected_and_recorded(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """An ADT gets AR with ERR 200, goes to the store queue, not to annotation."""
    adt = b"MSH|^~\\&|ADT|GENHOSP|RADFLAG|GENHOSP|20260101||ADT^A01|ADT1|P|2.5.1\rEVN|A01\r"
    answers = _run(
        publishing, redis_server, lambda lst: _exchange(lst.port, [encode_frame(adt)], 1)
    )
    ack = parse_ack(answers[0])
    assert (ack.code, ack.acked_control_id, ack.error_code) == ("AR", "ADT1", "200")
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 0
    assert keys.queue_depth(redis_client, keys.QUEUE_STORE) == 1


def test_unsupported_trigger_rejected(publishing: Settings, redis_server: RedisServer) -> None:
    """An ORU^R30 (no report) gets AR with ERR 201 before anything is queued."""
    r30 = wrap_oru(REPORT, control_id="R30").replace(b"ORU^R01^ORU_R01", b"ORU^R30^ORU_R30")
    answers = _run(
        publishing, redis_server, lambda lst: _exchange(lst.port, [encode_frame(r30)], 1)
    )
    ack = parse_ack(answers[0])
    assert (ack.code, ack.error_code) == ("AR", "201")


@pytest.mark.parametrize(
    ("fixture", "error_code"),
    [("oru_v251_ed_pdf_only.hl7", "200"), ("oru_v24_lab_panel.hl7", "200")],
)
def test_message_without_report_text_rejected_before_queueing(
    publishing: Settings,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    fixture: str,
    error_code: str,
) -> None:
    """An ED/PDF-only report or a lab panel gets AR/CR with ERR and the reason, and is recorded."""
    message = (FIXTURES / "hl7" / fixture).read_bytes().replace(b"\n", b"\r")
    answers = _run(
        publishing, redis_server, lambda lst: _exchange(lst.port, [encode_frame(message)], 1)
    )
    ack = parse_ack(answers[0])
    rejected = "CR" if parse_header(message).enhanced_mode else "AR"
    assert (ack.code, ack.error_code) == (rejected, error_code)
    assert "no report text" in ack.text
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 0
    assert keys.queue_depth(redis_client, keys.QUEUE_STORE) == 1


def test_not_hl7_rejected(publishing: Settings, redis_server: RedisServer) -> None:
    """A frame that is not HL7 gets AR (segment sequence error), the connection stays usable."""
    good = wrap_oru(REPORT, control_id="AFTER")
    chunks = [encode_frame(b"hello, world"), encode_frame(good)]
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, chunks, 2))
    assert [c for c, _ in _codes(answers)] == ["AR", "AA"]


def test_enhanced_mode_gets_commit_ack(publishing: Settings, redis_server: RedisServer) -> None:
    """MSH-15 AL: the answer is CA."""
    message = wrap_oru(REPORT, control_id="ENH1").replace(b"|P|2.5.1\r", b"|P|2.5.1|||AL|NE\r", 1)
    answers = _run(
        publishing, redis_server, lambda lst: _exchange(lst.port, [encode_frame(message)], 1)
    )
    assert _codes(answers) == [("CA", "ENH1")]


def test_broker_down_answers_error(publishing: Settings, redis_server: RedisServer) -> None:
    """Redis gone: AE in original mode and CE in enhanced mode, never AA/CA."""
    original = wrap_oru(REPORT, control_id="DOWN1")
    enhanced = wrap_oru(REPORT, control_id="DOWN2").replace(b"|P|2.5.1\r", b"|P|2.5.1|||AL\r", 1)

    async def scenario(listener: MllpListener) -> list[bytes]:
        redis_server.kill()
        blob = encode_frame(original) + encode_frame(enhanced)
        return await _exchange(listener.port, [blob], 2)

    answers = _run(publishing, redis_server, scenario)
    assert _codes(answers) == [("AE", "DOWN1"), ("CE", "DOWN2")]


def test_oversized_frame_rejected_and_closed(
    publishing: Settings, redis_server: RedisServer
) -> None:
    """A frame over max_frame_bytes: AR when its MSH was seen, then the connection closes."""
    big = wrap_oru("x" * (publishing.max_frame_bytes + 10), control_id="BIG1")
    frame = encode_frame(big)
    chunks = [frame[:1000], frame[1000:]]
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, chunks, 1))
    assert _codes(answers) == [("AR", "BIG1")]
    # Table 0357: too big for us is 104 (value too long), not 207 (our internal error).
    assert parse_ack(answers[0]).error_code == "104"


def test_http_request_gets_connection_closed(
    publishing: Settings, redis_server: RedisServer
) -> None:
    """An HTTP request on the MLLP port: no answer, closed at once (not after idle_timeout)."""
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n"
    slow = Settings(data_dir=publishing.data_dir, idle_timeout=60.0)

    async def scenario(listener: MllpListener) -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        started = time.monotonic()
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read(100)
        writer.close()
        return answer, time.monotonic() - started

    answer, waited = _run(slow, redis_server, scenario)
    assert answer == b"" and waited < 10


def test_empty_control_id_answered_in_kind(publishing: Settings, redis_server: RedisServer) -> None:
    """Empty MSH-10: AR 101 in the inbound version, sender and receiver swapped."""
    message = wrap_oru(REPORT, control_id="", version="2.4")
    answers = _run(
        publishing, redis_server, lambda lst: _exchange(lst.port, [encode_frame(message)], 1)
    )
    msh = answers[0].split(b"\r", 1)[0].split(b"|")
    sent = message.split(b"\r", 1)[0].split(b"|")
    assert (msh[2], msh[3], msh[4], msh[5]) == (sent[4], sent[5], sent[2], sent[3])
    assert msh[11] == b"2.4"
    ack = parse_ack(answers[0])
    assert (ack.code, ack.error_code) == ("AR", "101") and "MSH-10" in ack.text


def test_idle_connection_closed(redis_server: RedisServer, settings: Settings) -> None:
    """A connection that sends nothing for idle_timeout is closed by the listener."""
    from worker import celery_app

    quick = Settings(data_dir=settings.data_dir, idle_timeout=0.3)
    celery_app.configure(quick, redis_url=redis_server.url)

    async def scenario(listener: MllpListener) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        started = time.monotonic()
        async with asyncio.timeout(5):
            assert await reader.read(100) == b""
        writer.close()
        return time.monotonic() - started

    assert 0.2 < _run(quick, redis_server, scenario) < 3


class _SlowIntake(Intake):
    """Redis takes half a second to answer each write (all on redis-py's path)."""

    own_connection = False

    async def _write_batch(self, *args: Any, **kwargs: Any) -> list[bool]:
        await asyncio.sleep(0.5)
        return await super()._write_batch(*args, **kwargs)


def test_graceful_stop_finishes_messages_in_flight(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Stop during a slow publish: the message is still queued and ACKed; new connections fail."""

    async def scenario(listener: MllpListener) -> tuple[list[bytes], bool]:
        exchange = asyncio.create_task(
            _exchange(listener.port, [encode_frame(wrap_oru(REPORT, control_id="FLIGHT"))], 1)
        )
        await asyncio.sleep(0.2)
        await listener.stop(grace=5)
        refused = False
        try:
            await asyncio.open_connection("127.0.0.1", listener.port)
        except OSError:
            refused = True
        return await exchange, refused

    answers, refused = _run(publishing, redis_server, scenario, slow=True)
    assert _codes(answers) == [("AA", "FLIGHT")]
    assert refused
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1


def test_frames_before_an_oversized_one_are_answered(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A good frame and an oversized one in one write: AA for the first, AR for the second."""
    good = encode_frame(wrap_oru(REPORT, control_id="GOOD1"))
    big = encode_frame(wrap_oru("y" * (publishing.max_frame_bytes + 10), control_id="BIG2"))
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, [good + big], 2))
    assert _codes(answers) == [("AA", "GOOD1"), ("AR", "BIG2")]
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1


def test_many_connections_at_once(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Fifty connections, three messages each, all at once: 150 AAs, 150 messages queued
    (those that arrived together in one batch task)."""

    async def scenario(listener: MllpListener) -> list[list[bytes]]:
        def blob(conn: int) -> bytes:
            return b"".join(
                encode_frame(wrap_oru(REPORT, control_id=f"M{conn}-{i}")) for i in range(3)
            )

        return await asyncio.gather(*(_exchange(listener.port, [blob(c)], 3) for c in range(50)))

    per_connection = _run(publishing, redis_server, scenario)
    for conn, answers in enumerate(per_connection):
        assert _codes(answers) == [("AA", f"M{conn}-{i}") for i in range(3)]
    queued = [
        key
        for raw in redis_client.lrange(keys.QUEUE_ANNOTATE, 0, -1)  # type: ignore[union-attr]
        for key in intake_batches.dedupe_keys_of_tasks(redis_client, [raw])[0]
    ]
    assert sorted(queued) == sorted(f"RIS|GENHOSP|M{c}-{i}" for c in range(50) for i in range(3))
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) < 150  # some went together


def test_junk_between_frames_skipped_then_flood_closed(
    publishing: Settings, redis_server: RedisServer
) -> None:
    """Stray bytes between frames are skipped; endless bytes outside frames close the link."""
    good = encode_frame(wrap_oru(REPORT, control_id="J1"))
    answers = _run(publishing, redis_server, lambda lst: _exchange(lst.port, [b"\0\r\n" + good], 1))
    assert _codes(answers) == [("AA", "J1")]
    flood = b"x" * (publishing.max_frame_bytes + 1)

    async def flooded(listener: MllpListener) -> list[bytes]:
        try:
            return await _exchange(listener.port, [flood, good], 1)
        except ConnectionError:
            return []  # closed while we were still writing: closed all the same

    assert _run(publishing, redis_server, flooded) == []


def test_send_raw_tries_the_empty_control_id_path(
    publishing: Settings, redis_server: RedisServer
) -> None:
    """`radflag send --raw` sends an empty-MSH-10 message; the listener answers AR 101.

    Without --raw, send refuses it before sending (exit 1, nothing on the wire).
    """
    from click.testing import CliRunner

    from worker.cli import main

    path = FIXTURES / "hl7" / "oru_v23_missing_control_id.hl7"

    async def scenario(listener: MllpListener) -> tuple[Any, Any]:
        def send(*extra: str) -> Any:
            args = ["send", str(path), "--to", f"127.0.0.1:{listener.port}", *extra]
            return CliRunner().invoke(main, args)

        return await asyncio.to_thread(send), await asyncio.to_thread(send, "--raw")

    plain, raw = _run(publishing, redis_server, scenario)
    assert plain.exit_code == 1 and "MSH-10" in plain.output and " AR" not in plain.output
    assert raw.exit_code == 1, raw.output
    assert f"{path}: (empty MSH-10) AR MSH-10 message control id is empty" in raw.output
