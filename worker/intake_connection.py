"""The intake's own Redis connection: group writes as RESP bytes, replies to a callback.

redis-py's asyncio command path cost the listener more CPU than the group
write's round trip itself: per call a chain of coroutines, a StreamReader read
loop and a timeout context (docs/throughput.md, sixth pass). Here the intake
takes a connection that redis-py opened, so AUTH, SELECT, TLS and Sentinel's
current master are exactly as configured, and puts this protocol on its
transport. A write is then one `transport.write` of the packed command; its
reply is parsed by hiredis in `data_received` and handed to the caller's
callback. No task, future or timer per write.

Commands may be pipelined; Redis answers them in the order sent. Whatever is
unusual reaches the caller as the reply: an error reply (a
`hiredis.ReplyError`, e.g. NOSCRIPT after a Redis restart), a lost connection
(`ConnectionError`), or no reply within the timeout (`TimeoutError`). A lost or
timed-out connection is closed and not used again; the caller decides what the
write becomes (worker/listener.py: redis-py's path again, which reconnects and
reloads the script, or an AE).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

Reply = Any  # what hiredis parsed, or the exception that stands for the reply
ReplyError = hiredis.ReplyError


def pack_command(parts: list[bytes]) -> bytes:
    """One RESP command (an array of bulk strings), as Redis reads it."""
    return b"*%d\r\n" % len(parts) + pack_bulk(parts)


def pack_bulk(values: list[bytes] | tuple[bytes, ...]) -> bytes:
    """`values` as RESP bulk strings: a command's parts without its count (`pack_command`)."""
    return b"".join([b"$%d\r\n%b\r\n" % (len(value), value) for value in values])


async def pool_connection(client: aioredis.Redis) -> Any:
    """A connection of the client's pool, as the redis-py installed asks for one."""
    pool = client.connection_pool
    try:
        return await pool.get_connection()  # redis-py 5.3+ (naming the command is deprecated)
    except TypeError:  # before 5.3 the command name is required
        return await pool.get_connection("EVALSHA")  # type: ignore[call-arg,unused-ignore]


class IntakeConnection(asyncio.Protocol):
    """A redis-py connection's transport, driven directly; see the module's docstring."""

    def __init__(self, client: aioredis.Redis, conn: Any, timeout: float) -> None:
        self.client = client
        self.conn = conn  # redis-py's: it opened the socket and closes it
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.streams: asyncio.BaseProtocol | None = None  # redis-py's protocol on it before
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[float, Callable[[Reply], None]]] = deque()  # sent at, callback
        self.watchdog: asyncio.TimerHandle | None = None
        self.usable = False

    @classmethod
    async def open(cls, client: aioredis.Redis, timeout: float) -> IntakeConnection | None:
        """A connection from the client's pool, taken over; None when this redis-py has none.

        Raises redis-py's errors when Redis cannot be reached.
        """
        conn = await pool_connection(client)
        writer = getattr(conn, "_writer", None)
        transport = getattr(writer, "transport", None)
        reader = getattr(conn, "_reader", None)
        if not isinstance(transport, asyncio.Transport) or getattr(reader, "_buffer", None):
            await client.connection_pool.release(conn)  # not this redis-py's shape: not taken
            return None
        self = cls(client, conn, timeout)
        self.streams = transport.get_protocol()
        self.transport = transport
        transport.set_protocol(self)
        self.usable = True
        return self

    def call(self, command: bytes, done: Callable[[Reply], None]) -> None:
        """Send one packed command; `done(reply)` once, from the event loop.

        Needs `usable`. Commands may be pipelined: replies come in the order sent.
        """
        assert self.usable and self.transport is not None
        now = self.loop.time()
        self.transport.write(command)  # raises: nothing is registered, `done` is never called
        self.waiting.append((now, done))
        if self.watchdog is None:
            self.watchdog = self.loop.call_at(now + self.timeout, self._check_overdue)

    # -- asyncio.Protocol ------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as e:  # not RESP: nothing more can be trusted on it
                self._break(ConnectionError(f"Redis protocol error: {e}"))
                return
            if reply is False:  # no whole reply yet
                return
            if not self.waiting:  # a reply nobody asked for: the stream is out of step
                self._break(ConnectionError("Redis sent a reply nobody waited for"))
                return
            self.waiting.popleft()[1](reply)

    def eof_received(self) -> bool | None:
        return None  # Redis closed its side: close ours (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = type(exc).__name__ if exc is not None else "closed"
        self._break(ConnectionError(f"Redis connection lost: {reason}"))
        if self.streams is not None:  # redis-py's stream waits for this to finish its close
            self.streams.connection_lost(exc)
            self.streams = None

    # -- failures, closing ------------------------------------------------------------

    def retire(self) -> None:
        """Stop using this connection: writes in flight get a ConnectionError; `close` follows."""
        self._break(ConnectionError("intake connection retired"))

    def _check_overdue(self) -> None:
        self.watchdog = None
        if not self.waiting:
            return
        overdue_at = self.waiting[0][0] + self.timeout
        if self.loop.time() >= overdue_at:
            self._break(TimeoutError(f"no reply from Redis within {self.timeout:g}s"))
        else:
            self.watchdog = self.loop.call_at(overdue_at, self._check_overdue)

    def _break(self, error: BaseException) -> None:
        """Never use this connection again; each write in flight gets `error` as its reply."""
        self.usable = False
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()
        waiting, self.waiting = self.waiting, deque()
        for _, done in waiting:
            done(error)

    async def close(self) -> None:
        """Close the socket and give redis-py's connection back to its pool (closed)."""
        self._break(ConnectionError("intake connection closed"))
        try:
            await self.conn.disconnect()
        except Exception as e:  # already gone: nothing to give back but the slot
            log.debug("intake connection close: %s", type(e).__name__)
        await self.client.connection_pool.release(self.conn)
