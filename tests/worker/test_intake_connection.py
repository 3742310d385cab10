"""The intake's own Redis connection (worker/intake_connection.py) against a real redis-server.

What must hold: a command's reply reaches its callback, pipelined replies in the
order sent; an error reply, a lost connection or a missing reply reaches the
callback as such, exactly once, and leaves the connection unusable where it
cannot be trusted; and the intake's group writes use it once redis-py's path has
written one, answer the same as that path, and fall back to it when it breaks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from hl7.header import parse_header
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer
from worker import journal, keys, listener
from worker.celery_app import BrokerUnavailable
from worker.intake_connection import IntakeConnection, ReplyError, pack_command
from worker.listener import Intake

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _run(
    server: RedisServer, scenario: Callable[[Any], Awaitable[Any]], timeout: float = 5.0
) -> Any:
    async def main() -> Any:
        client = keys.async_redis_client(server.url, timeout=timeout)
        try:
            return await asyncio.wait_for(scenario(client), 30)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def _call(conn: IntakeConnection, *parts: bytes) -> Any:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    conn.call(pack_command(list(parts)), future.set_result)
    return await future


def test_pack_command_is_what_redis_reads(redis_server: RedisServer) -> None:
    """Binary-safe bulk strings: CR LF, NUL and non-ASCII bytes in a value come back as sent."""
    value = "Befund:\r\nÖdem\x00 ✓".encode()

    async def scenario(client: Any) -> list[Any]:
        conn = await IntakeConnection.open(client, 5)
        assert conn is not None
        try:
            return [
                await _call(conn, b"SET", b"k", value),
                await _call(conn, b"GET", b"k"),
                await _call(conn, b"STRLEN", b"k"),
            ]
        finally:
            await conn.close()

    assert _run(redis_server, scenario) == [b"OK", value, len(value)]


def test_pipelined_replies_reach_their_callbacks_in_order(redis_server: RedisServer) -> None:
    async def scenario(client: Any) -> list[Any]:
        conn = await IntakeConnection.open(client, 5)
        assert conn is not None
        replies: list[Any] = []
        try:
            futures = []
            for n in range(50):
                future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                conn.call(pack_command([b"INCRBY", b"counter", b"%d" % n]), future.set_result)
                futures.append(future)
            assert len(conn.waiting) == 50
            replies = list(await asyncio.gather(*futures))
            assert not conn.waiting
        finally:
            await conn.close()
        return replies

    totals = [sum(range(n + 1)) for n in range(50)]
    assert _run(redis_server, scenario) == totals


def test_an_error_reply_is_handed_over_and_the_connection_goes_on(
    redis_server: RedisServer,
) -> None:
    async def scenario(client: Any) -> tuple[Any, Any, bool]:
        conn = await IntakeConnection.open(client, 5)
        assert conn is not None
        try:
            error = await _call(conn, b"EVALSHA", b"0" * 40, b"0")
            after = await _call(conn, b"PING")
            return error, after, conn.usable
        finally:
            await conn.close()

    error, after, usable = _run(redis_server, scenario)
    assert isinstance(error, ReplyError) and str(error).startswith("NOSCRIPT")
    assert (after, usable) == (b"PONG", True)


def test_a_killed_connection_answers_every_write_in_flight_once(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """CLIENT KILL while three writes wait behind a paused Redis: each callback gets one
    ConnectionError, and the connection is not used again."""

    async def scenario(client: Any) -> tuple[list[list[Any]], bool]:
        conn = await IntakeConnection.open(client, 5)
        assert conn is not None
        calls: list[list[Any]] = [[], [], []]
        try:
            redis_client.client_pause(3000, all=False)  # WRITE: the writes wait
            for n in range(3):
                conn.call(pack_command([b"SET", b"k%d" % n, b"v"]), calls[n].append)
            await asyncio.sleep(0.2)
            redis_client.client_kill_filter(_type="normal", skipme=True)
            for _ in range(100):
                if all(calls):
                    break
                await asyncio.sleep(0.05)
            return calls, conn.usable
        finally:
            redis_client.client_unpause()
            await conn.close()

    calls, usable = _run(redis_server, scenario)
    assert [len(c) for c in calls] == [1, 1, 1]
    assert all(isinstance(c[0], ConnectionError) for c in calls)
    assert not usable


def test_no_reply_within_the_timeout_is_a_timeout_and_ends_the_connection(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    async def scenario(client: Any) -> tuple[Any, bool, float]:
        conn = await IntakeConnection.open(client, 0.5)
        assert conn is not None
        try:
            redis_client.client_pause(3000, all=False)
            started = asyncio.get_running_loop().time()
            reply = await _call(conn, b"SET", b"k", b"v")
            return reply, conn.usable, asyncio.get_running_loop().time() - started
        finally:
            redis_client.client_unpause()
            await conn.close()

    reply, usable, waited = _run(redis_server, scenario)
    assert isinstance(reply, TimeoutError)
    assert not usable
    assert 0.4 < waited < 2.5


def test_close_gives_the_connection_back_to_the_pool(redis_server: RedisServer) -> None:
    async def scenario(client: Any) -> tuple[int, int]:
        pool = client.connection_pool
        conn = await IntakeConnection.open(client, 5)
        assert conn is not None
        in_use = len(pool._in_use_connections)
        await conn.close()
        return in_use, len(pool._in_use_connections)

    assert _run(redis_server, scenario) == (1, 0)


# --- the intake's group writes on it ----------------------------------------------------


def _raws(prefix: str, count: int) -> list[bytes]:
    return [
        wrap_oru(f"Findings:\nBone marrow edema of the talus, {n}.", control_id=f"{prefix}{n}")
        for n in range(count)
    ]


async def _together(intake: Intake, raws: list[bytes]) -> list[bool | BaseException]:
    return list(
        await asyncio.gather(
            *(intake.accept(r, parse_header(r), "AA", AT) for r in raws), return_exceptions=True
        )
    )


async def _opened(intake: Intake, prefix: str) -> IntakeConnection:
    """Two group writes: the first through redis-py's path opens the own connection, which
    the second, written after that, uses; the own connection."""
    assert await _together(intake, _raws(f"{prefix}-1-", 1)) == [True]
    assert await _together(intake, _raws(f"{prefix}-2-", 1)) == [True]
    assert intake._fast is not None and intake._fast.usable
    return intake._fast


def _evalsha_calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_group_writes_go_on_the_own_connection_after_the_first(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The first write goes through redis-py's path and opens it; the next ones use it, and
    they answer as that path does: queued, then a duplicate."""

    async def scenario(client: Any) -> tuple[list[Any], bool, list[Any], list[Any], int]:
        intake = Intake(client, 60)
        try:
            first = await _together(intake, _raws("OWN-A", 3))
            before = _evalsha_calls(redis_client)
            second = await _together(intake, _raws("OWN-B", 4))
            opened = intake._fast is not None and intake._fast.usable
            again = await _together(intake, _raws("OWN-B", 4))
            return first, opened, second, again, _evalsha_calls(redis_client) - before
        finally:
            await intake.close()

    first, opened, second, again, calls = _run(redis_server, scenario)
    assert (first, opened) == ([True] * 3, True)
    assert second == [True] * 4
    assert again == [False] * 4  # duplicates: acknowledged again, not queued again
    assert calls == 2  # one group write each time
    assert journal.size(redis_client) == 7
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 7


def test_a_dropped_own_connection_goes_back_to_redis_py_and_opens_again(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    async def scenario(client: Any) -> list[list[Any]]:
        intake = Intake(client, 60)
        answers = []
        try:
            broken = await _opened(intake, "DROP-A")
            redis_client.client_kill_filter(_type="normal", skipme=True)
            await asyncio.sleep(0.1)
            answers.append(await _together(intake, _raws("DROP-B", 3)))
            answers.append(await _together(intake, _raws("DROP-C", 3)))
            assert intake._fast is not None and intake._fast is not broken
            assert intake._fast.usable
        finally:
            await intake.close()
        return answers

    assert _run(redis_server, scenario) == [[True] * 3, [True] * 3]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 8


def test_scripts_lost_under_the_own_connection_are_loaded_again(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """SCRIPT FLUSH (as after a restart): the NOSCRIPT reply sends the write through
    redis-py's path, which loads the script; a new own connection takes over."""

    async def scenario(client: Any) -> tuple[list[Any], list[Any], bool]:
        intake = Intake(client, 60)
        try:
            fast = await _opened(intake, "FLUSH-A")
            redis_client.script_flush()
            after = await _together(intake, _raws("FLUSH-B", 2))
            later = await _together(intake, _raws("FLUSH-C", 2))
            renewed = intake._fast
            return after, later, renewed is not fast and renewed is not None and renewed.usable
        finally:
            await intake.close()

    assert _run(redis_server, scenario) == ([True] * 2, [True] * 2, True)
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 6


def test_an_error_reply_is_answered_through_redis_py_then_writes_go_on(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Redis refuses writes (OOM at maxmemory 1): the batch goes through redis-py's path,
    which is refused too, so every waiter hears BrokerUnavailable (AE), at once; once Redis
    takes writes again, so does a new own connection."""

    async def scenario(client: Any) -> tuple[list[Any], float, list[Any], list[Any], bool]:
        intake = Intake(client, 60)
        try:
            fast = await _opened(intake, "OOM-A")
            redis_client.config_set("maxmemory", 1)
            started = asyncio.get_running_loop().time()
            refused = await _together(intake, _raws("OOM-B", 3))
            waited = asyncio.get_running_loop().time() - started
            redis_client.config_set("maxmemory", 0)
            after = await _together(intake, _raws("OOM-C", 2))
            later = await _together(intake, _raws("OOM-D", 2))
            renewed = intake._fast
            return (
                refused,
                waited,
                after,
                later,
                renewed is not fast and bool(renewed and renewed.usable),
            )
        finally:
            redis_client.config_set("maxmemory", 0)
            await intake.close()

    refused, waited, after, later, renewed = _run(redis_server, scenario)
    assert all(isinstance(a, BrokerUnavailable) for a in refused), refused
    assert waited < 2
    assert (after, later, renewed) == ([True] * 2, [True] * 2, True)
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 6


def test_a_paused_redis_gets_an_error_answer_not_a_second_wait(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """No reply within the timeout: every waiter is told BrokerUnavailable (the listener's
    AE) once, after one timeout; after Redis answers again, writes go on."""

    async def scenario(client: Any) -> tuple[list[Any], float, list[Any]]:
        intake = Intake(client, 60)
        try:
            await _opened(intake, "PAUSE-A")
            redis_client.client_pause(2500, all=False)
            started = asyncio.get_running_loop().time()
            paused = await _together(intake, _raws("PAUSE-B", 3))
            waited = asyncio.get_running_loop().time() - started
            redis_client.client_unpause()
            return paused, waited, await _together(intake, _raws("PAUSE-C", 2))
        finally:
            redis_client.client_unpause()
            await intake.close()

    paused, waited, after = _run(redis_server, scenario, timeout=0.5)
    assert all(isinstance(a, BrokerUnavailable) for a in paused), paused
    assert 0.4 < waited < 2.0
    assert after == [True] * 2


@pytest.mark.parametrize("in_flight", [1, 3])
def test_many_groups_in_turn_each_waiter_told_once(
    in_flight: int,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Messages arriving while writes are in flight gather into later groups; each is
    answered once, all are queued, and no more than the allowed writes are in flight."""
    monkeypatch.setattr(listener, "MAX_WRITES_IN_FLIGHT", in_flight)

    async def scenario(client: Any) -> tuple[list[Any], int]:
        intake = Intake(client, 60, max_batch=5)
        most = 0
        try:
            await _opened(intake, f"WARM{in_flight}")
            raws = _raws(f"MANY{in_flight}-", 60)
            futures = []
            for n, raw in enumerate(raws):
                futures.append(
                    asyncio.ensure_future(intake.accept(raw, parse_header(raw), "AA", AT))
                )
                if n % 7 == 0:
                    await asyncio.sleep(0)
                most = max(most, intake._in_flight)
            answers = list(await asyncio.gather(*futures))
            return answers, most
        finally:
            await intake.close()

    answers, most = _run(redis_server, scenario)
    assert answers == [True] * 60
    assert 1 <= most <= in_flight
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 62


def test_close_right_after_an_answer_leaves_no_connection_behind(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The first write's task still opens the own connection after answering its batch;
    a close at that moment waits for it and closes it too."""

    async def scenario(client: Any) -> tuple[list[Any], int, bool]:
        intake = Intake(client, 60)
        answers = await _together(intake, _raws("QUICK", 2))
        await intake.close()
        return answers, len(client.connection_pool._in_use_connections), intake._fast is None

    assert _run(redis_server, scenario) == ([True] * 2, 0, True)
    clients: list[dict[str, Any]] = redis_client.client_list()  # type: ignore[assignment]
    assert len(clients) == 1  # this test's own


def test_a_write_the_socket_refuses_is_answered_and_writing_goes_on(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """transport.write raising (a bug or a broken socket): that group is told "not queued",
    nothing stays counted in flight, the own connection is retired, and the next messages
    go through redis-py's path and are queued."""

    async def scenario(client: Any) -> tuple[list[Any], int, bool, list[Any]]:
        intake = Intake(client, 60)
        try:
            fast = await _opened(intake, "REFUSE-A")
            assert fast.transport is not None

            def refuse(_data: bytes) -> None:
                raise RuntimeError("socket refused the write")

            fast.transport.write = refuse  # type: ignore[method-assign]
            refused = await _together(intake, _raws("REFUSE-B", 2))
            in_flight, usable = intake._in_flight, fast.usable
            after = await _together(intake, _raws("REFUSE-C", 2))
            return refused, in_flight, usable, after
        finally:
            await intake.close()

    loop_errors: list[dict[str, Any]] = []

    async def with_handler(client: Any) -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: loop_errors.append(ctx))
        return await scenario(client)

    refused, in_flight, usable, after = _run(redis_server, with_handler)
    assert all(isinstance(a, BrokerUnavailable) for a in refused), refused
    assert (in_flight, usable, after) == (0, False, [True] * 2)
    assert [type(c.get("exception")).__name__ for c in loop_errors] == ["RuntimeError"]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 4
