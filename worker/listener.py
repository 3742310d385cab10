"""The MLLP listener: frames in, ACKs out, each accepted message durably queued first.

Strategy: asyncio for the sockets (many idle connections cost nothing) and for
Redis (redis.asyncio with a connection pool), so a connection waiting on Redis
never holds up the others and no thread hop is paid per message. Per message
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
task upgrades itself with `StreamWriter.start_tls`, rather than passing
`ssl=` to `start_server`. There, a failed handshake (a plain MLLP sender on the
TLS port, a missing or untrusted client certificate) never reaches our code:
asyncio closes the socket and logs nothing unless in debug mode. Here it is
caught, logged with the peer address and closed, and the handshake has its own
deadline, so a silent client holds one connection task, nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import os
import signal
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

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
from worker.counters import FLUSH_INTERVAL, ListenerCounts
from worker.replicas import ReplicaConfirmation
from worker.settings import Settings

log = logging.getLogger(__name__)

READ_CHUNK = 65536
TLS_HANDSHAKE_TIMEOUT = 30.0
NOISE_LIMIT = 4096  # printable bytes outside frames tolerated on one connection
INTAKE_SCRIPT = resources.files("worker").joinpath("intake.lua").read_text()
INTAKE_BATCH_SCRIPT = resources.files("worker").joinpath("intake_batch.lua").read_text()
BATCH_LIST_TTL = 7 * 86400  # seconds a batch's entry list is kept if no worker ends it
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


@dataclass
class _Pending:
    """A message waiting for the intake's next Redis write."""

    kwargs: dict[str, str]
    dedupe: str  # its dedupe mark's Redis key
    entry: str  # its journal entry id
    done: asyncio.Future[bool]


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

    def __init__(
        self,
        client: aioredis.Redis,
        duplicate_window: float,
        *,
        min_replicas: int = 0,
        replica_timeout: float = 1.0,
        max_batch: int = 32,
    ) -> None:
        self.client = client
        self.duplicate_window = max(1, int(duplicate_window))
        # EVALSHA, and EVAL again when Redis lost its script cache (a restart).
        self._enqueue = client.register_script(INTAKE_SCRIPT)
        self._enqueue_batch = client.register_script(INTAKE_BATCH_SCRIPT)
        self.replicas = ReplicaConfirmation(min_replicas, replica_timeout)
        self.max_batch = max(1, max_batch)
        self._pending: list[_Pending] = []
        self._writing = False

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
        kwargs = {
            "raw_b64": base64.b64encode(raw).decode("ascii"),
            "control_id": header.control_id,
            "dedupe_key": header.dedupe_key,
            "received_at": received_at.isoformat(),
            "ack_code": ack_code,
        }
        if task_name != keys.TASK_ANNOTATE or self.max_batch == 1:
            return await self._write_one(task_name, kwargs)
        pending = _Pending(
            kwargs,
            keys.dedupe_redis_key(header.dedupe_key),
            journal.entry_id(task_name, header.dedupe_key),
            asyncio.get_running_loop().create_future(),
        )
        self._pending.append(pending)
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_pending())
        return await pending.done

    async def _write_pending(self) -> None:
        """Write what is pending, in batches, until nothing is; each waiter gets its answer."""
        try:
            await asyncio.sleep(0)  # frames read in this turn of the loop join the first write
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    answers = await self._write_batch(batch)
                except BrokerUnavailable as e:
                    for waiting in batch:
                        if not waiting.done.done():
                            waiting.done.set_exception(e)
                    continue
                for waiting, queued in zip(batch, answers, strict=True):
                    if not waiting.done.done():  # its connection may have gone meanwhile
                        waiting.done.set_result(queued)
        except BaseException as e:  # cancelled (shutdown) or a bug: nobody waits forever
            for waiting in self._pending:
                if not waiting.done.done():
                    waiting.done.set_exception(BrokerUnavailable(f"not queued: {type(e).__name__}"))
            self._pending.clear()
            raise
        finally:
            self._writing = False

    async def _write_batch(self, batch: list[_Pending]) -> list[bool]:
        """One Lua call for the batch; whether each was queued (False: a duplicate)."""
        batch_id = next_batch_id()
        queue, task = batch_task(batch_id, batch[0].kwargs["received_at"])
        now = repr(time.time())
        script_keys = [
            queue, keys.JOURNAL_KEY, keys.JOURNAL_SINCE_KEY, keys.INTAKE_OPEN_KEY,
            keys.BATCH_PREFIX + batch_id,
        ]  # fmt: skip
        script_args: list[str | int] = [
            self.duplicate_window, now, task, batch_id, self.max_batch, BATCH_LIST_TTL,
            OPEN_BATCH_TTL, keys.BATCH_PREFIX,
        ]  # fmt: skip
        for waiting in batch:
            script_keys.append(waiting.dedupe)
            script_args += [
                waiting.kwargs["received_at"],
                waiting.entry,
                journal.encode(keys.TASK_ANNOTATE, waiting.kwargs),
            ]
        try:
            if not self.replicas.required:
                queued = await self._enqueue_batch(keys=script_keys, args=script_args)
            else:
                async with self.client.client() as conn:
                    queued = await self._enqueue_batch(
                        keys=script_keys, args=script_args, client=conn
                    )
                    await self.replicas.confirm(conn, wrote=any(queued))
        except redis.RedisError as e:
            raise BrokerUnavailable(f"cannot queue: {type(e).__name__}") from e
        return [bool(one) for one in queued]

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


@dataclass
class _Connection:
    peer: str
    task: asyncio.Task[None]
    busy: bool = False
    buffered: int = 0  # bytes of an unfinished frame held for this connection


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
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._closing = False
        # Memory bounds (settings.max_connections, settings.buffer_budget_bytes): a
        # connection over the limit is closed at once; one whose unfinished frame would
        # take the total held for all connections over the budget is closed (unanswered:
        # its sender resends later, as after any lost connection).
        self.buffered = 0
        self._refusing = False
        self.counts = ListenerCounts()  # flushed to Redis by `serve`'s heartbeat

    async def start(self) -> None:
        """Bind and start accepting; `self.port` is the bound port afterwards."""
        try:
            self._server = await asyncio.start_server(
                self._serve_connection, self.host, self.port, limit=READ_CHUNK
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
        self._closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            if not conn.busy:
                conn.task.cancel()
        pending = list(self._connections)
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
        log.info("MLLP listener stopped")

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername")
        conn = _Connection(peer=f"{peername[0]}:{peername[1]}" if peername else "?", task=task)
        if len(self._connections) >= self.settings.max_connections:
            self._refuse_connection(writer, conn)
            self.counts.count("radflag_mllp_connections_closed_total", reason="connection_limit")
            return
        self._refusing = False
        self._connections[task] = conn
        self.counts.count("radflag_mllp_connections_total")
        self.counts.open_connections = len(self._connections)
        try:
            if self.ssl_context is not None and not await self._start_tls(writer, conn):
                return
            await self._converse(reader, writer, conn)
        except asyncio.CancelledError:
            pass  # shutdown of an idle connection
        except (ConnectionError, OSError) as e:
            log.info("connection %s ended: %s", conn.peer, type(e).__name__)
        finally:
            del self._connections[task]
            self.buffered -= conn.buffered
            self.counts.open_connections = len(self._connections)
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _start_tls(self, writer: asyncio.StreamWriter, conn: _Connection) -> bool:
        """Upgrade the connection to TLS; False (logged) when the handshake fails."""
        assert self.ssl_context is not None
        timeout = min(TLS_HANDSHAKE_TIMEOUT, self.settings.idle_timeout)
        try:
            await writer.start_tls(self.ssl_context, ssl_handshake_timeout=timeout)
        except ssl.SSLError as e:
            # The reason (WRONG_VERSION_NUMBER, PEER_DID_NOT_RETURN_A_CERTIFICATE, ...)
            # comes from OpenSSL; no message bytes were decrypted, so it holds no health data.
            log.warning("connection %s: TLS handshake failed: %s", conn.peer, e.reason or e)
            self.counts.count("radflag_mllp_connections_closed_total", reason="tls_failed")
            return False
        except (TimeoutError, ConnectionError) as e:
            log.warning("connection %s: TLS handshake failed: %s", conn.peer, type(e).__name__)
            self.counts.count("radflag_mllp_connections_closed_total", reason="tls_failed")
            return False
        return True

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        decoder = FrameDecoder(self.settings.max_frame_bytes)
        warned_junk = False
        while not self._closing:
            try:
                async with asyncio.timeout(self.settings.idle_timeout):
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                log.info(
                    "connection %s idle for %gs, closed", conn.peer, self.settings.idle_timeout
                )
                self.counts.count("radflag_mllp_connections_closed_total", reason="idle")
                return
            conn.busy = True
            self.counts.count("radflag_mllp_received_bytes_total", len(data))
            if not data:
                leftover = decoder.close()
                if leftover is not None:  # unterminated but whole: answer it anyway
                    writer.write(encode_frame(await self._answer(leftover, conn.peer)))
                    await writer.drain()
                return
            noise_before = decoder.noise_bytes
            try:
                frames = decoder.feed(data)
            except FrameTooLarge as e:
                for frame in e.frames:  # completed before the oversized one: answer them
                    writer.write(encode_frame(await self._answer(frame, conn.peer)))
                await self._refuse_oversized(writer, conn, e)
                self.counts.count("radflag_mllp_frames_total", outcome="oversized")
                self.counts.count("radflag_mllp_connections_closed_total", reason="oversized")
                return
            if not self._account(conn, decoder.pending_bytes):
                self.counts.count("radflag_mllp_connections_closed_total", reason="buffer_budget")
                return
            if decoder.discarded_bytes and not warned_junk:
                warned_junk = True
                log.warning("connection %s sent bytes outside MLLP frames", conn.peer)
            if decoder.discarded_bytes > self.settings.max_frame_bytes:
                log.warning("connection %s: too many bytes outside frames, closed", conn.peer)
                self.counts.count("radflag_mllp_connections_closed_total", reason="not_mllp")
                return
            for frame in frames:
                writer.write(encode_frame(await self._answer(frame, conn.peer)))
            await writer.drain()
            conn.busy = False
            if _not_mllp(decoder, noise_before, frames):
                log.warning(
                    "connection %s sent %d bytes that are not MLLP (e.g. HTTP), closed",
                    conn.peer,
                    decoder.noise_bytes,
                )
                self.counts.count("radflag_mllp_connections_closed_total", reason="not_mllp")
                return

    def _account(self, conn: _Connection, pending: int) -> bool:
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

    def _refuse_connection(self, writer: asyncio.StreamWriter, conn: _Connection) -> None:
        if not self._refusing:  # one line per episode, not one per connection
            self._refusing = True
            log.warning(
                "connection limit of %d reached: refusing new connections (first: %s)",
                self.settings.max_connections,
                conn.peer,
            )
        writer.transport.abort()

    async def _answer(self, frame: bytes, peer: str = "?") -> bytes:
        """The ACK for one frame, after queueing it (or deciding not to)."""
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
            code = response_code(header, "rejected" if e.reject else "error")
            self._count(header, code, "rejected")
            return await self._reject(frame, header, e, received_at, peer)
        code = response_code(header, "accepted")
        try:
            queued = await self.intake.accept(frame, header, code, received_at, task_name)
        except BrokerUnavailable as e:
            log.warning("not queued control_id=%s: %s", header.control_id, e)
            error_code = response_code(header, "error")
            self._count(header, error_code, "error")
            return build_ack(
                header,
                error_code,
                control_id=_ack_id(),
                timestamp=received_at,
                text="message could not be queued, please resend",
            )
        if queued:
            log.debug("queued control_id=%s", header.control_id)
        else:
            log.info("duplicate control_id=%s acknowledged again", header.control_id)
        self._count(header, code, "accepted" if queued else "duplicate")
        return build_ack(header, code, control_id=_ack_id(), timestamp=received_at)

    def _count(self, header: MessageHeader, ack_code: str, outcome: str) -> None:
        self.counts.count("radflag_mllp_frames_total", outcome=outcome)
        self.counts.count(
            "radflag_messages_received_total",
            message_type=message_type_label(header),
            ack_code=ack_code,
        )

    async def _reject(
        self,
        frame: bytes,
        header: MessageHeader,
        error: InboundMessageError,
        received_at: datetime,
        peer: str,
    ) -> bytes:
        code = response_code(header, "rejected" if error.reject else "error")
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

    async def _refuse_oversized(
        self, writer: asyncio.StreamWriter, conn: _Connection, error: FrameTooLarge
    ) -> None:
        # The frame is dropped; if its MSH was seen, answer AR so that the sender
        # does not resend it forever, then close (the rest may still be arriving).
        log.warning("connection %s: %s; closed", conn.peer, error)
        try:
            header = parse_header(error.head)
        except InboundMessageError:
            await writer.drain()
            return
        # 104 "value too long": the sender's message is too big for us, not our fault (207).
        reason = InboundMessageError(str(error), hl7_error_code=104)
        code = response_code(header, "rejected")
        ack = build_ack(
            header, code, control_id=_ack_id(), timestamp=datetime.now(UTC), error=reason
        )
        writer.write(encode_frame(ack))
        await writer.drain()


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
