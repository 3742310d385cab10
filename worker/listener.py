"""The MLLP listener: frames in, ACKs out, each accepted message durably queued first.

Strategy: asyncio for the sockets (many idle connections cost nothing; each is
an `asyncio.Protocol`, so a message costs no task, future or timer) and for
Redis (redis.asyncio; the group writes on a connection of its pool driven
directly, worker/intake_connection.py), so a connection waiting on Redis never
holds up the others and no thread hop is paid per message. Per message
the listener only frames, reads MSH (`hl7.header`), screens the content
(`hl7.extract.screen`: a byte scan for a text OBX; only an odd message, such as
an ED/PDF-only report or a lab panel, gets the full read, so it is answered
AR/CR rather than AA and dead-lettered later) and queues; the full parse and the
NLP run in the workers.

Queueing a message is one Lua script (worker/intake.lua), one round trip: if
the dedupe key exists it is a duplicate (AA/CA again, not queued); else LPUSH
the Celery task (built by `celery_app.task_envelope`, exactly what a publish
would send) and SET the dedupe key with the duplicate window as TTL. Atomic:
two copies arriving at once on two connections are queued once, and the mark
never exists without the message. Redis answers after the write went to its
append-only file (fsync per `appendfsync`); only then is the ACK sent. Broker
unreachable: AE/CE, so that the sender resends. Going through `app.send_task`
instead cost ~400 us of CPU per message (measured), which capped the listener
near 700 ACKs/s.

A connection's frames are answered in order, one at a time (MLLP senders
pair ACKs with messages by order); connections run concurrently.

TLS (optional, `worker.tls`): the server accepts plain TCP and each connection
upgrades itself with `loop.start_tls`, rather than passing `ssl=` to
`create_server`. There, a failed handshake (a plain MLLP sender on the TLS
port, a missing or untrusted client certificate) never reaches our code:
asyncio closes the socket and logs nothing unless in debug mode. Here it is
caught, logged with the peer address and closed, and the handshake has its own
deadline, so a silent client holds one connection, nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import itertools
import logging
import os
import signal
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any, cast

import redis
import redis.asyncio as aioredis

from hl7.ack import build_ack, response_code
from hl7.errors import FrameTooLarge, InboundMessageError
from hl7.extract import screen
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from hl7.model import MessageHeader
from hl7.orders import is_event_message, screen_event
from worker import journal, keys, tls
from worker.celery_app import BrokerUnavailable, batch_task, task_envelope
from worker.counters import FLUSH_INTERVAL, ListenerCounts, counter_field
from worker.intake_connection import IntakeConnection, pack_bulk, pool_connection
from worker.replicas import ReplicaConfirmation
from worker.settings import Settings

log = logging.getLogger(__name__)

READ_CHUNK = 65536
TLS_HANDSHAKE_TIMEOUT = 30.0
NOISE_LIMIT = 4096  # printable bytes outside frames tolerated on one connection
INTAKE_SCRIPT = resources.files("worker").joinpath("intake.lua").read_text()
INTAKE_BATCH_SCRIPT = resources.files("worker").joinpath("intake_batch.lua").read_text()
BATCH_LIST_TTL = 7 * 86400  # seconds a batch's entry list is kept if no worker ends it
# Group writes in flight on the intake's own connection. 2 measured slower at 8
# connections: groups shrank from 3.7 to 2.4 messages, and each write costs the
# listener and Redis more than a message does (docs/throughput.md, sixth pass).
MAX_WRITES_IN_FLIGHT = 1
OPEN_BATCH_TTL = 5  # seconds a waiting batch takes more messages; then a new one starts
_BATCH_PREFIX = os.urandom(6).hex()  # this process's batch ids: prefix and counter
_BATCH_NUMBERS = itertools.count()


def next_batch_id() -> str:
    """A new annotate batch id: unique across listeners (random prefix, process id) and in one."""
    return f"{_BATCH_PREFIX}{os.getpid()}-{next(_BATCH_NUMBERS)}"


# Answering an unreadable MSH still needs delimiters and a version.
_FALLBACK_HEADER = MessageHeader(
    field_separator="|",
    encoding_characters="^~\\&",
    sending_application="",
    sending_facility="",
    receiving_application="",
    receiving_facility="",
    message_type="",
    trigger_event="",
    control_id="",
    processing_id="P",
    version="2.5.1",
)


# What a group write tells each waiting message: True queued, False a duplicate
# (already queued, not again), or the exception that kept it from Redis.
Outcome = bool | BaseException


class _Pending:
    """A message waiting for the intake's next Redis write: its part of the group write."""

    __slots__ = ("dedupe", "done", "entry", "packed", "payload", "received_at")

    def __init__(
        self, dedupe: str, received_at: str, entry: str, payload: str,
        done: Callable[[Outcome], None],
    ) -> None:  # fmt: skip
        self.dedupe = dedupe  # its dedupe mark's Redis key
        self.received_at = received_at  # ISO 8601, as in its task's arguments
        self.entry = entry  # its journal entry id
        self.payload = payload  # its journal entry (`journal.encode_message`)
        # Its three arguments of worker/intake_batch.lua as RESP, packed once, in one
        # format (`pack_bulk`'s join of three cost this path twice as much).
        at, entry_bytes, payload_bytes = received_at.encode(), entry.encode(), payload.encode()
        self.packed = b"$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n" % (
            len(at), at, len(entry_bytes), entry_bytes, len(payload_bytes), payload_bytes,
        )  # fmt: skip
        self.done = done  # called once, with the write's outcome for this message


def _tell(waiting: _Pending, outcome: Outcome) -> None:
    """Give one waiter its outcome; a failing callback is logged, never stops the others."""
    try:
        waiting.done(outcome)
    except Exception as e:  # a bug in a caller's callback: no message content in the line
        log.error("intake callback failed: %s", type(e).__name__)


def _settle_future(future: asyncio.Future[bool], outcome: Outcome) -> None:
    if future.done():  # its caller went away meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Intake:
    """Queueing in Redis, on the event loop (redis.asyncio: no thread hop per message).

    Group commit: annotate messages that arrive while the previous write is in
    flight (other connections' frames) wait for the next one and go to Redis
    together, in one Lua call (worker/intake_batch.lua), each still ACKed only
    once Redis has it. Their journal entry ids join the open batch: the
    `radflag.annotate_batch` task still waiting in the queue (at most
    `max_batch` entries, for OPEN_BATCH_TTL seconds). When there is none (a
    worker took it: worker/batch_take.lua), a new batch starts with its task. So
    while the workers keep up, a message goes at once in a task of its own or of
    a few; while they are behind, what waits gathers into full batches, which
    cost the workers less per message. Orders and appointments go one by one
    (worker/intake.lua).
    """

    # Group writes go on a connection driven directly (worker/intake_connection.py)
    # once redis-py's path has written one; False keeps them all on redis-py's path.
    own_connection = True

    def __init__(
        self,
        client: aioredis.Redis,
        duplicate_window: float,
        *,
        min_replicas: int = 0,
        replica_timeout: float = 1.0,
        max_batch: int = 64,
    ) -> None:
        self.client = client
        self.duplicate_window = max(1, int(duplicate_window))
        # EVALSHA, and EVAL again when Redis lost its script cache (a restart).
        self._enqueue = client.register_script(INTAKE_SCRIPT)
        self._enqueue_batch = client.register_script(INTAKE_BATCH_SCRIPT)
        self.replicas = ReplicaConfirmation(min_replicas, replica_timeout)
        self.max_batch = max(1, max_batch)
        self._pending: list[_Pending] = []  # not yet in a write
        self._retry: deque[list[_Pending]] = deque()  # batches to write on redis-py's path
        self._in_flight = 0  # group writes sent and not yet answered
        self._scheduled = False  # `_write_next` is to run
        self._closing = False
        self._connection: Any = None  # redis-py's path's own (`_evalsha_batch`)
        self._fast: IntakeConnection | None = None  # the fast path's (`_write_next`)
        self._slow: set[asyncio.Task[None]] = set()  # group writes on redis-py's path
        self._batch_sha = self._enqueue_batch.sha.encode()
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        self.timeout = float(timeout) if timeout else 5.0  # as redis-py's own calls

    @property
    def batching(self) -> bool:
        """Whether annotate messages go in group writes (`submit`), not one by one."""
        return self.max_batch > 1

    @staticmethod
    def message_kwargs(
        raw: bytes, header: MessageHeader, ack_code: str, received_at: datetime
    ) -> dict[str, str]:
        """The queued task's arguments for a message (also its journal entry's)."""
        return {
            "raw_b64": base64.b64encode(raw).decode("ascii"),
            "control_id": header.control_id,
            "dedupe_key": header.dedupe_key,
            "received_at": received_at.isoformat(),
            "ack_code": ack_code,
        }

    async def accept(
        self,
        raw: bytes,
        header: MessageHeader,
        ack_code: str,
        received_at: datetime,
        task_name: str = keys.TASK_ANNOTATE,
    ) -> bool:
        """Queue the message; False when it is a duplicate (already queued, not queued again).

        `task_name`: annotate a report, or store an order or appointment (follow-ups).
        Raises BrokerUnavailable when Redis cannot be reached or refuses the write.
        """
        if task_name != keys.TASK_ANNOTATE or not self.batching:
            kwargs = self.message_kwargs(raw, header, ack_code, received_at)
            return await self._write_one(task_name, kwargs)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.submit(raw, header, ack_code, received_at, lambda o: _settle_future(future, o))
        return await future

    def submit(
        self,
        raw: bytes,
        header: MessageHeader,
        ack_code: str,
        received_at: datetime,
        done: Callable[[Outcome], None],
    ) -> None:
        """Queue an annotate message with the next group write; `done(outcome)` once Redis answered.

        The outcome is True (queued), False (a duplicate) or a BrokerUnavailable.
        Needs `batching`. The listener's connections use this directly: no future
        and no task per message.
        """
        at = received_at.isoformat()
        dedupe_key = header.dedupe_key
        payload = journal.encode_message(
            keys.TASK_ANNOTATE, binascii.b2a_base64(raw, newline=False).decode("ascii"),
            header.control_id, dedupe_key, at, ack_code,
        )  # fmt: skip
        entry = journal.entry_id(keys.TASK_ANNOTATE, dedupe_key)
        self._pending.append(_Pending(keys.dedupe_redis_key(dedupe_key), at, entry, payload, done))
        if not self._scheduled and self._in_flight < MAX_WRITES_IN_FLIGHT:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._write_next)  # frames of this turn join

    def _write_next(self) -> None:
        """Start group writes for what is pending, as far as the writes in flight allow.

        The common case goes on the intake's own connection (`IntakeConnection`)
        with a callback: no task or future per write, and up to
        MAX_WRITES_IN_FLIGHT writes pipelined on it. Without one (not yet open,
        broken, replicas to confirm), and for a write it could not finish, the
        write runs as a task on redis-py's path (`_write_slow`), alone: that
        path's connection takes one command at a time.
        """
        self._scheduled = False
        batch: list[_Pending] = []
        try:
            while True:
                fast = self._fast
                if self._retry or fast is None or not fast.usable or self.replicas.required:
                    if self._in_flight:
                        return  # redis-py's path goes alone: after the writes in flight
                    batch = self._retry.popleft() if self._retry else self._take()
                    if batch:
                        self._in_flight += 1
                        self._slow.add(
                            asyncio.get_running_loop().create_task(self._write_slow(batch))
                        )
                    return
                if not self._pending or self._in_flight >= MAX_WRITES_IN_FLIGHT:
                    return
                batch = self._take()
                command = self._batch_command(batch)
                try:
                    fast.call(command, functools.partial(self._fast_reply, batch))
                except Exception:  # the socket refused the write: no reply will come
                    fast.retire()
                    raise
                self._in_flight += 1
                batch = []
        except BaseException as e:  # a bug: nobody waits forever, later messages still go
            self._fail_all(batch, e)
            raise

    def _take(self) -> list[_Pending]:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        return batch

    def _fast_reply(self, batch: list[_Pending], reply: Any) -> None:
        """A group write's reply on the own connection: each waiter's answer, then more writes."""
        self._in_flight -= 1
        try:
            if isinstance(reply, list):
                self._answer(batch, [bool(one) for one in reply])
            elif isinstance(reply, TimeoutError):  # as redis-py's timeout: AE, no second try
                self._answer(batch, [BrokerUnavailable("cannot queue: TimeoutError")] * len(batch))
            else:  # an error reply or a lost connection: redis-py's path decides
                # and a new own connection follows (a READONLY reply: Sentinel moved the
                # master; redis-py's path finds the new one, and so does the next open)
                self._retry.append(batch)
                if self._fast is not None:
                    self._fast.retire()
        except BaseException as e:
            self._fail_all(batch, e)
            raise
        self._write_next()

    async def _write_slow(self, batch: list[_Pending]) -> None:
        """One group write on redis-py's path, then the own connection (again) and the next."""
        try:
            try:
                answers: list[Outcome] = list(await self._write_batch(batch))
            except BrokerUnavailable as e:
                answers = [e] * len(batch)
            written, batch = batch, []
            self._answer(written, answers)
            fast = self._fast
            if (
                self.own_connection
                and not self.replicas.required
                and (fast is None or not fast.usable)
                and not isinstance(answers[0], BaseException)
            ):
                await self._open_fast()
        except BaseException as e:  # cancelled (shutdown) or a bug: nobody waits forever
            self._fail_all(batch, e)
            raise
        finally:
            self._in_flight -= 1
            task = asyncio.current_task()
            if task is not None:
                self._slow.discard(task)
        self._write_next()

    async def _open_fast(self) -> None:
        """Take a connection for the fast path; stay on redis-py's path when that fails."""
        old, self._fast = self._fast, None
        if old is not None:
            await old.close()
        if self._closing:
            return
        try:
            self._fast = await IntakeConnection.open(self.client, self.timeout)
        except (redis.RedisError, OSError) as e:
            log.info("intake: own Redis connection not opened: %s", type(e).__name__)

    @staticmethod
    def _answer(batch: list[_Pending], answers: list[Outcome]) -> None:
        for waiting, outcome in zip(batch, answers, strict=True):
            _tell(waiting, outcome)

    def _fail_all(self, batch: list[_Pending], error: BaseException) -> None:
        """Answer the batch in hand and everything waiting "not queued"."""
        failed = BrokerUnavailable(f"not queued: {type(error).__name__}")
        waiting = batch + [one for retry in self._retry for one in retry] + self._pending
        self._pending = []
        self._retry.clear()
        for one in waiting:
            _tell(one, failed)

    def _batch_command(self, batch: list[_Pending]) -> bytes:
        """The packed EVALSHA of worker/intake_batch.lua for the batch (`_batch_script`'s)."""
        head_keys, head_args = self._batch_head(batch)
        script_keys = [key.encode() for key in head_keys]
        script_keys += [waiting.dedupe.encode() for waiting in batch]
        args = [arg.encode() if isinstance(arg, str) else b"%d" % arg for arg in head_args]
        count = 3 + len(script_keys) + len(args) + 3 * len(batch)
        command = [
            b"*%d\r\n" % count,
            pack_bulk([b"EVALSHA", self._batch_sha, b"%d" % len(script_keys), *script_keys]),
            pack_bulk(args),
        ]
        command += [waiting.packed for waiting in batch]
        return b"".join(command)

    def _batch_head(self, batch: list[_Pending]) -> tuple[list[str], list[str | int]]:
        """worker/intake_batch.lua's keys and arguments for a group write, before the messages'."""
        batch_id = next_batch_id()
        queue, task = batch_task(batch_id, batch[0].received_at)
        now = repr(time.time())
        script_keys = [
            queue, keys.JOURNAL_KEY, keys.JOURNAL_SINCE_KEY, keys.INTAKE_OPEN_KEY,
            keys.BATCH_PREFIX + batch_id,
        ]  # fmt: skip
        script_args: list[str | int] = [
            self.duplicate_window, now, task, batch_id, self.max_batch, BATCH_LIST_TTL,
            OPEN_BATCH_TTL, keys.BATCH_PREFIX,
        ]  # fmt: skip
        return script_keys, script_args

    def _batch_script(self, batch: list[_Pending]) -> tuple[list[str], list[str | int]]:
        """worker/intake_batch.lua's keys and arguments for a group write of `batch`."""
        script_keys, script_args = self._batch_head(batch)
        for waiting in batch:
            script_keys.append(waiting.dedupe)
            script_args += [waiting.received_at, waiting.entry, waiting.payload]
        return script_keys, script_args

    async def _write_batch(self, batch: list[_Pending]) -> list[bool]:
        """One Lua call for the batch on redis-py's path; each: queued, or False (a duplicate)."""
        script_keys, script_args = self._batch_script(batch)
        try:
            if not self.replicas.required:
                queued = await self._evalsha_batch(script_keys, script_args)
            else:
                async with self.client.client() as conn:
                    queued = await self._enqueue_batch(
                        keys=script_keys, args=script_args, client=conn
                    )
                    await self.replicas.confirm(conn, wrote=any(queued))
        except redis.RedisError as e:
            raise BrokerUnavailable(f"cannot queue: {type(e).__name__}") from e
        return [bool(one) for one in queued]

    async def _evalsha_batch(self, script_keys: list[str], script_args: list[str | int]) -> Any:
        """worker/intake_batch.lua on the intake's own connection: its reply, or RedisError.

        Group writes run one at a time, so they keep one redis-py connection and
        send the packed EVALSHA on it: the client's command path (pool, retry
        wrapper, script object) cost more CPU than the round trip itself
        (docs/throughput.md). What that path did is kept: a dropped connection
        is tried once more (redis-py reconnects it, through Sentinel when
        configured), and a Redis that lost its scripts (a restart) loads it again.
        Every other failure (a timeout, a refused write) goes up.
        """
        script = self._enqueue_batch
        connection_errors = 0
        for _ in range(4):  # at most: reconnect once, load the script once
            if self._connection is None:
                self._connection = await pool_connection(self.client)
            conn = self._connection
            command = conn.pack_command(
                "EVALSHA", script.sha, len(script_keys), *script_keys, *script_args
            )
            try:
                await conn.send_packed_command(command, check_health=False)
                return await conn.read_response()
            except redis.exceptions.NoScriptError:
                await conn.send_command("SCRIPT", "LOAD", script.script)
                await conn.read_response()
            except redis.ConnectionError:
                # redis-py disconnected it; the next send connects again
                connection_errors += 1
                if connection_errors > 1:
                    raise
        raise redis.RedisError("intake script not run after reloading it")

    async def close(self) -> None:
        """Let writes on redis-py's path end, then give the intake's connections back."""
        self._closing = True
        if self._slow:  # one may be opening the own connection after answering its batch
            await asyncio.wait(list(self._slow), timeout=self.timeout + 1)
        fast, self._fast = self._fast, None
        if fast is not None:
            await fast.close()
        conn, self._connection = self._connection, None
        if conn is not None:
            await self.client.connection_pool.release(conn)

    async def _write_one(self, task_name: str, kwargs: dict[str, str]) -> bool:
        """One message as its own task (worker/intake.lua)."""
        stamp = kwargs["received_at"]
        queue, envelope = task_envelope(task_name, kwargs)
        dedupe = keys.dedupe_redis_key(kwargs["dedupe_key"])
        entry = journal.entry_id(task_name, kwargs["dedupe_key"])
        try:
            script_keys = [dedupe, queue, keys.JOURNAL_KEY, keys.JOURNAL_SINCE_KEY]
            script_args: list[str | int] = [
                envelope,
                self.duplicate_window,
                stamp,
                entry,
                journal.encode(task_name, kwargs),
                repr(time.time()),
            ]
            if not self.replicas.required:
                queued = await self._enqueue(keys=script_keys, args=script_args)
                return bool(queued)
            # WAIT counts the replicas that have this connection's writes: one connection.
            async with self.client.client() as conn:
                queued = await self._enqueue(keys=script_keys, args=script_args, client=conn)
                await self.replicas.confirm(conn, wrote=bool(queued))
        except redis.RedisError as e:
            raise BrokerUnavailable(f"cannot queue: {type(e).__name__}") from e
        return bool(queued)

    async def record_rejected(
        self, raw: bytes, header: MessageHeader, ack_code: str, error: str, received_at: datetime
    ) -> None:
        """Hand a rejected message to the store queue; if that fails, log its control id only."""
        dedupe_key = header.dedupe_key if header.control_id else f"unreadable|{uuid.uuid4().hex}"
        kwargs = {
            "raw_b64": base64.b64encode(raw).decode("ascii"),
            "dedupe_key": dedupe_key,
            "ack_code": ack_code,
            "error": error,
            "received_at": received_at.isoformat(),
        }
        queue, envelope = task_envelope(keys.TASK_RECORD_REJECTED, kwargs)
        entry = journal.entry_id(keys.TASK_RECORD_REJECTED, dedupe_key)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.lpush(queue, envelope)
                journal.add_to_pipeline(
                    pipe, entry, keys.TASK_RECORD_REJECTED, kwargs, now=time.time()
                )
                await pipe.execute()
        except redis.RedisError:
            log.error("rejected message not recorded control_id=%s", header.control_id or "?")


class ListenError(OSError):
    """The listener cannot bind its address (in use, or not an address of this host)."""


# A connection stops reading while this many of its frames wait for their answer
# (a sender that pipelines); a sender that waits for each ACK never gets there.
MAX_WAITING_FRAMES = 16
_RECEIVED_BYTES = counter_field("radflag_mllp_received_bytes_total")


class _Close:
    """In a connection's frame queue: write `ack` (if any) when reached, then close."""

    __slots__ = ("ack",)

    def __init__(self, ack: bytes | None = None) -> None:
        self.ack = ack


class _MllpConnection(asyncio.Protocol):
    """One MLLP connection: frames in, each frame's ACK out in order.

    An `asyncio.Protocol`, not streams: a frame is read, checked and handed to
    the intake from `data_received`, and its ACK is written from the intake's
    callback, with no task, future or read timeout per message (streams cost
    about as much as all of radflag's own work per ACK; measured in
    docs/throughput.md). A connection's frames are answered one at a time, in
    order, as before: the next frame goes to the intake once the previous one
    is answered. Reading pauses while MAX_WAITING_FRAMES wait, or while the
    peer does not read its ACKs.
    """

    def __init__(self, listener: MllpListener) -> None:
        self.listener = listener
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.decoder = FrameDecoder(listener.settings.max_frame_bytes)
        self.waiting: deque[bytes | _Close] = deque()  # frames (and a close) not yet answered
        self.answering = False  # the head frame is with the intake
        self.buffered = 0  # bytes of an unfinished frame held for this connection
        self.warned_junk = False
        self.counted = False  # among the listener's connections
        self.reading = True
        self.write_paused = False
        self.handshaking = False
        self.last_read = self.loop.time()
        self.idle_timer: asyncio.TimerHandle | None = None
        self.closed: asyncio.Future[None] = self.loop.create_future()
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def busy(self) -> bool:
        """Frames read and not yet answered."""
        return self.answering or bool(self.waiting)

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # create_server: a stream transport
        peername = transport.get_extra_info("peername")
        self.peer = f"{peername[0]}:{peername[1]}" if peername else "?"
        listener = self.listener
        if listener.closing:
            self.transport.abort()
            return
        if len(listener.connections) >= listener.settings.max_connections:
            listener.refuse_connection(self)
            listener.counts.count(
                "radflag_mllp_connections_closed_total", reason="connection_limit"
            )
            return
        listener.connection_opened(self)
        self.counted = True
        if listener.ssl_context is not None:
            self.handshaking = True
            self.transport.pause_reading()
            self._spawn(self._start_tls(listener.ssl_context), None)
        self._arm_idle(listener.settings.idle_timeout)

    def data_received(self, data: bytes) -> None:
        listener = self.listener
        self.last_read = self.loop.time()
        listener.counts.add(_RECEIVED_BYTES, len(data))
        decoder = self.decoder
        noise_before = decoder.noise_bytes
        try:
            frames = decoder.feed(data)
        except FrameTooLarge as e:
            self.waiting.extend(e.frames)  # completed before the oversized one: answered
            self.waiting.append(_Close(listener.oversized_answer(self.peer, e)))
            listener.counts.count("radflag_mllp_frames_total", outcome="oversized")
            listener.counts.count("radflag_mllp_connections_closed_total", reason="oversized")
            self._set_reading()
            self._answer_next()
            return
        if not listener.account(self, decoder.pending_bytes):
            listener.counts.count("radflag_mllp_connections_closed_total", reason="buffer_budget")
            self.close()
            return
        if decoder.discarded_bytes and not self.warned_junk:
            self.warned_junk = True
            log.warning("connection %s sent bytes outside MLLP frames", self.peer)
        if decoder.discarded_bytes > listener.settings.max_frame_bytes:
            log.warning("connection %s: too many bytes outside frames, closed", self.peer)
            listener.counts.count("radflag_mllp_connections_closed_total", reason="not_mllp")
            self.close()
            return
        self.waiting.extend(frames)
        if _not_mllp(decoder, noise_before, frames):
            log.warning(
                "connection %s sent %d bytes that are not MLLP (e.g. HTTP), closed",
                self.peer,
                decoder.noise_bytes,
            )
            listener.counts.count("radflag_mllp_connections_closed_total", reason="not_mllp")
            self.waiting.append(_Close())
        if len(self.waiting) >= MAX_WAITING_FRAMES:
            self._set_reading()
        self._answer_next()

    def eof_received(self) -> bool:
        """The peer is done sending: answer what it sent (an unterminated last frame too), close."""
        leftover = self.decoder.close()
        if leftover is not None:  # unterminated but whole: answer it anyway
            self.waiting.append(leftover)
        self.waiting.append(_Close())
        self._answer_next()
        return True  # keep the transport open for the answers

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.counted:
            log.info("connection %s ended: %s", self.peer, type(exc).__name__)
        self.waiting.clear()  # frames not yet queued stay unanswered: the sender resends them
        self._forget()

    def pause_writing(self) -> None:  # the peer does not read its ACKs: stop reading its frames
        self.write_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._set_reading()

    # -- frames to answers -----------------------------------------------------------

    def _answer_next(self) -> None:
        """Hand the head frame to the listener unless one is with it; act on a close."""
        while not self.answering and self.waiting:
            head = self.waiting.popleft()
            if isinstance(head, _Close):
                self.waiting.clear()
                if head.ack is not None:
                    self._write(head.ack)
                self.close()
                return
            self.answering = True
            self.listener.answer(head, self)
        if not self.busy:
            self.last_read = self.loop.time()  # idle from now, as if a read started now
            if self.listener.closing:
                self.close()
                return
        self._set_reading()

    def answered(self, ack: bytes) -> None:
        """The ACK for the head frame: write it, go on with the next frame."""
        self.answering = False
        self._write(ack)
        self._answer_next()

    def failed(self, error: BaseException) -> None:
        """Answering the head frame failed unexpectedly (a bug): log its type, close."""
        log.error("connection %s: answering failed: %s, closed", self.peer, type(error).__name__)
        self.answering = False
        self.waiting.clear()
        self.close()

    def _write(self, ack: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(ack))

    # -- reading, idleness, TLS, closing --------------------------------------------

    def _set_reading(self) -> None:
        """Read while few frames wait, the peer reads its ACKs and the connection is open."""
        transport = self.transport
        if transport is None or self.handshaking or transport.is_closing():
            return
        wanted = not self.write_paused and len(self.waiting) < MAX_WAITING_FRAMES
        if wanted != self.reading:
            self.reading = wanted
            if wanted:
                transport.resume_reading()
            else:
                transport.pause_reading()

    def _arm_idle(self, delay: float) -> None:
        self.idle_timer = self.loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        """Close a connection that sent nothing for idle_timeout while owed no answer."""
        if self.transport is None or self.transport.is_closing():
            return
        timeout = self.listener.settings.idle_timeout
        remaining = self.last_read + timeout - self.loop.time()
        if self.busy or self.handshaking or remaining > 0.001:
            self._arm_idle(timeout if self.busy or self.handshaking else remaining)
            return
        log.info("connection %s idle for %gs, closed", self.peer, timeout)
        self.listener.counts.count("radflag_mllp_connections_closed_total", reason="idle")
        self.close()

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade to TLS with its own deadline; a failed handshake is logged and closed."""
        assert self.transport is not None
        timeout = min(TLS_HANDSHAKE_TIMEOUT, self.listener.settings.idle_timeout)
        plain = self.transport
        try:
            upgraded = await self.loop.start_tls(
                plain, self, context, server_side=True, ssl_handshake_timeout=timeout
            )
        except ssl.SSLError as e:
            # The reason (WRONG_VERSION_NUMBER, PEER_DID_NOT_RETURN_A_CERTIFICATE, ...)
            # comes from OpenSSL; no message bytes were decrypted, so it holds no health data.
            self._tls_failed(plain, str(e.reason or e))
            return
        except (TimeoutError, ConnectionError, OSError) as e:
            self._tls_failed(plain, type(e).__name__)
            return
        if upgraded is None:  # closed during the handshake
            self._forget()
            return
        self.transport = upgraded
        self.handshaking = False
        self.last_read = self.loop.time()
        self.reading = True  # start_tls resumed reading on the new transport
        self._set_reading()

    def _tls_failed(self, plain: asyncio.Transport, reason: str) -> None:
        log.warning("connection %s: TLS handshake failed: %s", self.peer, reason)
        self.listener.counts.count("radflag_mllp_connections_closed_total", reason="tls_failed")
        plain.abort()
        self._forget()

    def _spawn(self, coroutine: Any, on_result: Callable[[Any], None] | None) -> None:
        """Run `coroutine` for this connection: its result to `on_result`, a bug to `failed`."""
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self.tasks.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if error is not None:
                self.failed(error)
            elif on_result is not None:
                on_result(task.result())

        task.add_done_callback(done)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.counted:
            self._forget()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._forget()

    def _forget(self) -> None:
        """Once closed: out of the listener's connections and its buffer total."""
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        if self.counted:
            self.counted = False
            self.listener.connection_closed(self)
        if not self.closed.done():
            self.closed.set_result(None)


class MllpListener:
    """An asyncio MLLP server; `start`, then `stop` for a graceful shutdown."""

    def __init__(
        self,
        settings: Settings,
        intake: Intake,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.intake = intake
        self.host = host
        self.port = port
        self.ssl_context = ssl_context  # None: plain MLLP
        self._server: asyncio.Server | None = None
        self.connections: set[_MllpConnection] = set()
        self.closing = False
        # Memory bounds (settings.max_connections, settings.buffer_budget_bytes): a
        # connection over the limit is closed at once; one whose unfinished frame would
        # take the total held for all connections over the budget is closed (unanswered:
        # its sender resends later, as after any lost connection).
        self.buffered = 0
        self._refusing = False
        self.counts = ListenerCounts()  # flushed to Redis by `serve`'s heartbeat
        # (outcome, message type label, ACK code) -> the two counters a frame adds to
        self._count_fields: dict[tuple[str, str, str], tuple[str, str]] = {}

    async def start(self) -> None:
        """Bind and start accepting; `self.port` is the bound port afterwards."""
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _MllpConnection(self), self.host, self.port
            )
        except OSError as e:
            raise ListenError(
                f"--mllp-port: cannot listen on {self.host}:{self.port}: {e.strerror or e}"
            ) from e
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "MLLP listener on %s:%d%s",
            self.host,
            self.port,
            "" if self.ssl_context is None else " (TLS)",
        )

    async def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, let in-flight messages finish (up to `grace` s), close connections."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.handshaking:
                conn.abort()
            elif not conn.busy:
                conn.close()
            else:
                conn.waiting.append(_Close())  # after the frames it already read
        pending = [conn.closed for conn in self.connections]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for conn in list(self.connections):
                conn.abort()
            if late:
                await asyncio.wait(late, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        log.info("MLLP listener stopped")

    def connection_opened(self, conn: _MllpConnection) -> None:
        self._refusing = False
        self.connections.add(conn)
        self.counts.count("radflag_mllp_connections_total")
        self.counts.open_connections = len(self.connections)

    def connection_closed(self, conn: _MllpConnection) -> None:
        self.connections.discard(conn)
        self.buffered -= conn.buffered
        conn.buffered = 0
        self.counts.open_connections = len(self.connections)

    def account(self, conn: _MllpConnection, pending: int) -> bool:
        """Track the bytes held for `conn`; False (logged) when over the budget."""
        self.buffered += pending - conn.buffered
        conn.buffered = pending
        if self.buffered <= self.settings.buffer_budget_bytes:
            return True
        log.warning(
            "connection %s: listener buffer budget of %d bytes exhausted, closed",
            conn.peer,
            self.settings.buffer_budget_bytes,
        )
        return False

    def refuse_connection(self, conn: _MllpConnection) -> None:
        if not self._refusing:  # one line per episode, not one per connection
            self._refusing = True
            log.warning(
                "connection limit of %d reached: refusing new connections (first: %s)",
                self.settings.max_connections,
                conn.peer,
            )
        conn.abort()

    def answer(self, frame: bytes, conn: _MllpConnection) -> None:
        """Queue the frame (or decide not to); `conn.answered(ack)` gets its ACK.

        The common case, a report while batching, goes to the intake's next group
        write with a callback. Rejections, orders, appointments and lone writes
        run as a task.
        """
        received_at = datetime.now(UTC)
        header = _FALLBACK_HEADER
        task_name = keys.TASK_ANNOTATE
        try:
            header = parse_header(frame)
            if is_event_message(header):  # an order or appointment: stored, not annotated
                screen_event(frame, header)
                task_name = keys.TASK_FOLLOWUP_EVENT
            else:
                screen(frame, header)
        except InboundMessageError as e:
            # An MSH read far enough to answer in kind (e.g. only MSH-10 empty) is used.
            header = e.header if isinstance(e.header, MessageHeader) else header
            conn._spawn(self._reject(frame, header, e, received_at, conn.peer), conn.answered)
            return
        code = response_code(header, "accepted")
        if task_name == keys.TASK_ANNOTATE and self.intake.batching:

            def done(outcome: Outcome) -> None:
                try:
                    ack = self._acked(header, code, received_at, outcome)
                except Exception as e:  # a bug: the connection closes, the listener goes on
                    conn.failed(e)
                    return
                conn.answered(ack)

            self.intake.submit(frame, header, code, received_at, done)
            return
        conn._spawn(self._queue_alone(frame, header, code, received_at, task_name), conn.answered)

    async def _queue_alone(
        self, frame: bytes, header: MessageHeader, code: str, received_at: datetime, task_name: str
    ) -> bytes:
        try:
            outcome: Outcome = await self.intake.accept(frame, header, code, received_at, task_name)
        except BrokerUnavailable as e:
            outcome = e
        return self._acked(header, code, received_at, outcome)

    def _acked(
        self, header: MessageHeader, code: str, received_at: datetime, outcome: Outcome
    ) -> bytes:
        """The ACK once the intake answered: AA/CA (queued or a duplicate) or AE/CE."""
        if isinstance(outcome, BaseException):
            log.warning("not queued control_id=%s: %s", header.control_id, outcome)
            error_code = response_code(header, "error")
            self._count(header, error_code, "error")
            return build_ack(
                header,
                error_code,
                control_id=_ack_id(),
                timestamp=received_at,
                text="message could not be queued, please resend",
            )
        if outcome:
            log.debug("queued control_id=%s", header.control_id)
        else:
            log.info("duplicate control_id=%s acknowledged again", header.control_id)
        self._count(header, code, "accepted" if outcome else "duplicate")
        return build_ack(header, code, control_id=_ack_id(), timestamp=received_at)

    def _count(self, header: MessageHeader, ack_code: str, outcome: str) -> None:
        key = (outcome, message_type_label(header), ack_code)  # bounded: labels, codes
        fields = self._count_fields.get(key)
        if fields is None:
            fields = self._count_fields[key] = (
                counter_field("radflag_mllp_frames_total", {"outcome": outcome}),
                counter_field(
                    "radflag_messages_received_total",
                    {"message_type": key[1], "ack_code": ack_code},
                ),
            )
        add = self.counts.add
        for field in fields:
            add(field)

    async def _reject(
        self,
        frame: bytes,
        header: MessageHeader,
        error: InboundMessageError,
        received_at: datetime,
        peer: str,
    ) -> bytes:
        code = response_code(header, "rejected" if error.reject else "error")
        self._count(header, code, "rejected")
        # The reason is radflag's own wording (which field, which type), never message text.
        log.warning(
            "rejected control_id=%s from %s code=%s hl7_error=%d: %s",
            header.control_id or "?",
            peer,
            code,
            error.hl7_error_code,
            error.text,
        )
        await self.intake.record_rejected(frame, header, code, error.text, received_at)
        return build_ack(header, code, control_id=_ack_id(), timestamp=received_at, error=error)

    def oversized_answer(self, peer: str, error: FrameTooLarge) -> bytes | None:
        """AR for a frame over the size limit when its MSH was seen (the connection then closes).

        The frame is dropped; the AR keeps the sender from resending it forever.
        None when not even its MSH is readable.
        """
        log.warning("connection %s: %s; closed", peer, error)
        try:
            header = parse_header(error.head)
        except InboundMessageError:
            return None
        # 104 "value too long": the sender's message is too big for us, not our fault (207).
        reason = InboundMessageError(str(error), hl7_error_code=104)
        code = response_code(header, "rejected")
        return build_ack(
            header, code, control_id=_ack_id(), timestamp=datetime.now(UTC), error=reason
        )


def _not_mllp(decoder: FrameDecoder, noise_before: int, frames: list[bytes]) -> bool:
    """True when a read brought text outside frames and no frame with it, or too much text.

    NUL keep-alives and line ends between frames are tolerated (common sender habits);
    printable bytes with no frame after them mean the peer speaks another protocol,
    and waiting for its idle timeout would hold the connection for nothing.
    """
    if decoder.noise_bytes > NOISE_LIMIT:
        return True
    return decoder.noise_bytes > noise_before and not frames and not decoder.pending_bytes


# Message types counted under their own label; others as "other" (bounded series).
COUNTED_TYPES = ("ORU^R01", "ORU^", "MDM^T02", "MDM^T04")


def message_type_label(header: MessageHeader) -> str:
    """MSH-9 as a metric label: a supported type, "other", or "unreadable" (no MSH)."""
    if not header.message_type:
        return "unreadable"
    kind = f"{header.message_type}^{header.trigger_event}"
    return kind if kind in COUNTED_TYPES else "other"


_ACK_PREFIX = os.urandom(6).hex()  # this process's; MSH-10 of its ACKs, 20 characters
_ACK_NUMBERS = itertools.count()


def _ack_id() -> str:
    """A new ACK MSH-10: A, this process's random prefix, a counter (a uuid4 cost 5% of CPU)."""
    return f"A{_ACK_PREFIX}{next(_ACK_NUMBERS) % 10_000_000:07d}"


async def serve(settings: Settings, redis_url: str) -> None:
    """Run the listener until SIGTERM or SIGINT, then shut down gracefully.

    Raises TlsSetupError when the TLS files named in `settings` cannot be used.
    """
    ssl_context = tls.listener_context(settings)  # before anything is opened: may raise
    client = keys.async_redis_client(
        redis_url,
        timeout=max(5.0, settings.redis_replica_timeout + 1.0),  # outlasts WAIT's own timeout
        master_name=settings.redis_master_name,
    )
    intake = Intake(
        client,
        settings.duplicate_window,
        min_replicas=settings.redis_min_replicas,
        replica_timeout=settings.redis_replica_timeout,
        max_batch=settings.intake_batch,
    )
    listener = MllpListener(
        settings, intake, host=settings.mllp_host, port=settings.mllp_port, ssl_context=ssl_context
    )
    await listener.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    reconciling = asyncio.create_task(_reconcile(settings, redis_url, stop))
    heartbeat = asyncio.create_task(_heartbeat(listener, client, stop))
    await stop.wait()
    log.info("MLLP listener stopping: finishing messages in flight")
    await listener.stop()
    await intake.close()
    await asyncio.wait([reconciling, heartbeat], timeout=10)
    await listener.counts.flush(client)  # what the last messages added
    await listener.counts.forget(client)
    await client.aclose()


async def _heartbeat(listener: MllpListener, client: aioredis.Redis, stop: asyncio.Event) -> None:
    """Every FLUSH_INTERVAL seconds until `stop`: add the counts to Redis, say we are up."""
    while not stop.is_set():
        await listener.counts.flush(client)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL)


async def _reconcile(settings: Settings, redis_url: str, stop: asyncio.Event) -> None:
    """The journal's reconciler (worker/reconciler.py), at start and then periodically."""
    from worker import reconciler
    from worker.celery_app import visibility_timeout

    client = keys.redis_client(redis_url, master_name=settings.redis_master_name)
    try:
        await reconciler.run_periodically(
            client,
            interval=settings.journal_interval,
            requeue_after=settings.journal_requeue_after,
            visibility_timeout=visibility_timeout(settings),
            stop=stop,
        )
    finally:
        client.close()
