"""The listener's bounds: refusals before the ACK, a connection limit, a total buffer budget.

A real listener on 127.0.0.1 against a real redis-server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from typing import Any

import redis

from hl7.ack import parse_ack
from hl7.mllp import END_BLOCK, START_BLOCK
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, mllp_exchange, run_listener
from worker import keys
from worker.settings import Settings

TEXT = "FINDINGS:\nBone marrow edema in the talus.\n"


def _ack_segments(answer: bytes) -> list[str]:
    return answer.decode().strip("\r").split("\r")


def test_empty_text_and_oversized_reports_get_ar_with_err_before_anything_is_queued(
    settings: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    settings = dataclasses.replace(settings, max_frame_bytes=4 * 1024 * 1024)
    head = wrap_oru(TEXT, "MRI ANKLE LEFT", control_id="EMPTY1").split(b"\rOBX|")[0]
    empty = head + b"\rOBX|1|TX|RPT^Report^L||||||||F\r"
    huge = wrap_oru(("x" * 999 + "\n") * 1001, "MRI ANKLE LEFT", control_id="HUGE1")
    good = wrap_oru(TEXT, "MRI ANKLE LEFT", control_id="GOOD1")

    async def scenario(listener: Any) -> list[bytes]:
        return await asyncio.to_thread(
            mllp_exchange, listener.port, [empty, huge, good], timeout=20
        )

    answers = run_listener(settings, redis_server.url, scenario)
    codes = [parse_ack(a).code for a in answers]
    assert codes == ["AR", "AR", "AA"]
    empty_err = [s for s in _ack_segments(answers[0]) if s.startswith("ERR|")]
    huge_err = [s for s in _ack_segments(answers[1]) if s.startswith("ERR|")]
    assert empty_err and "all empty" in empty_err[0]
    assert huge_err and "exceeds the maximum of 1,000,000" in huge_err[0]
    # Only the good one is queued for annotation; the refused ones go to the store queue.
    assert redis_client.llen(keys.QUEUE_ANNOTATE) == 1
    assert redis_client.llen(keys.QUEUE_STORE) == 2


def _open(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_connections_over_the_limit_are_closed_and_the_others_served(
    settings: Settings, redis_server: RedisServer
) -> None:
    settings = dataclasses.replace(settings, max_connections=3)

    async def scenario(listener: Any) -> tuple[list[bool], str, str]:
        def clients() -> tuple[list[bool], str, str]:
            held = [_open(listener.port) for _ in range(3)]
            time.sleep(0.3)  # the listener has taken all three
            extra = [_open(listener.port) for _ in range(2)]
            refused = [_closed_by_peer(s) for s in extra]
            for s in extra:
                s.close()
            # A held connection is served; once one closes, a new one is served too.
            first = mllp_exchange_on(held[0], wrap_oru(TEXT, None, control_id="LIM1"))
            held[1].close()
            time.sleep(0.3)
            again = mllp_exchange(listener.port, [wrap_oru(TEXT, None, control_id="LIM2")])
            for s in held:
                s.close()
            return refused, first, parse_ack(again[0]).code

        return await asyncio.to_thread(clients)

    refused, first, again = run_listener(settings, redis_server.url, scenario)
    assert refused == [True, True]
    assert (first, again) == ("AA", "AA")


def mllp_exchange_on(sock: socket.socket, message: bytes) -> str:
    sock.settimeout(10)
    sock.sendall(START_BLOCK + message + END_BLOCK)
    data = b""
    while END_BLOCK not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return parse_ack(data[1 : data.index(END_BLOCK)]).code


def test_unfinished_frames_over_the_buffer_budget_are_dropped_not_hoarded(
    settings: Settings, redis_server: RedisServer
) -> None:
    settings = dataclasses.replace(
        settings, max_frame_bytes=64 * 1024, buffer_budget_bytes=100 * 1024
    )

    async def scenario(listener: Any) -> tuple[bool, bool, int, str]:
        def clients() -> tuple[bool, bool, int, str]:
            partial = START_BLOCK + wrap_oru(TEXT, None, control_id="BIG")[:-1] + b"x" * 60000
            first, second = _open(listener.port), _open(listener.port)
            first.sendall(partial)
            time.sleep(0.5)
            second.sendall(partial)  # 120 kB held in all: over the budget
            second_closed = _closed_by_peer(second)
            first_open = not _closed_by_peer(first, timeout=0.5)
            held = listener.buffered
            first.close()
            second.close()
            time.sleep(0.3)
            after = mllp_exchange(listener.port, [wrap_oru(TEXT, None, control_id="BUD1")])
            return second_closed, first_open, held, parse_ack(after[0]).code

        return await asyncio.to_thread(clients)

    second_closed, first_open, held, after = run_listener(settings, redis_server.url, scenario)
    assert second_closed and first_open
    assert 60000 < held <= 100 * 1024  # the first connection's frame, within the budget
    assert after == "AA"
