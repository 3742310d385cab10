"""The chaos harness: a real radflag service, a sender that resends like an engine, faults, counts.

Strategy: the service runs as separate real processes, as in a scaled-out
deployment: a redis-server (AOF, `appendfsync always`, the embedded default),
`radflag listen`, `radflag worker --queues annotate,store` and
`radflag worker --queues deliver`, with the store in SQLite (or PostgreSQL for
the store outage), and a destination on 127.0.0.1 whose behaviour a scenario
switches (AA, AE, AR, garbage, never answering, port closed). Each part can be
killed, stopped and restarted on its own, which `radflag run` (one supervisor,
tested in tests/worker/test_recovery.py) does not allow.

The sender is what an integration engine does: messages in order on a few
connections at a steady rate, each resent (same MSH-10) after an AE/CE, a
closed connection or no ACK within the ACK timeout, until acknowledged.

After the load and the fault, the harness waits (bounded) until every message
acknowledged AA/CA is delivered (answered AA by the destination) or
dead-lettered, then counts. The result's OBX `ORIGINAL_CONTROL_ID` names the
inbound message; the result's MSH-10 is stable across reruns, so a message
whose result was accepted twice is "delivered more than once". "Lost" is
acknowledged but neither delivered nor dead-lettered: it must be 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from hl7.ack import build_ack
from hl7.errors import InboundMessageError
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.messages import wrap_oru
from tests.servers import (
    RadflagProcess,
    RedisServer,
    free_port,
    service_env,
    start_listener,
    start_worker,
    wait_until,
)
from worker import dlq, journal, reconciler

REPORTS = (
    ("MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\n"
     "Impression:\nBone marrow edema of the medial femoral condyle.", "MRI KNEE LEFT"),
    ("MRI RIGHT ANKLE\nFindings:\nNo bone marrow edema. Tendons intact.\n"
     "Impression:\nNormal study.", "MRI ANKLE RIGHT"),
    ("MRI HIP\nFindings:\nPossible early bone marrow edema of the femoral head.\n", None),
)  # fmt: skip

# Service settings for chaos runs: short timeouts so that recovery shows within a run.
CHAOS_SETTINGS: dict[str, Any] = {
    "delivery_timeout": 2.0,
    "delivery_backoff_base": 0.5,
    "delivery_backoff_max": 2.0,
    "store_retry_max": 2.0,
    "task_time_limit": 15.0,
    "task_soft_time_limit": 12.0,
    "visibility_timeout": 1.0,  # the floor wins: backoff 2 + time limit 15 + 10 = 27 s
    "journal_requeue_after": 10.0,
    "journal_interval": 2.0,
    "concurrency": 2,
    "log_level": "INFO",
}


def original_control_id(result: bytes) -> str:
    """The inbound MSH-10 a result answers (its OBX ORIGINAL_CONTROL_ID)."""
    for segment in result.split(b"\r"):
        if segment.startswith(b"OBX|") and b"|ORIGINAL_CONTROL_ID^" in segment:
            return segment.split(b"|")[5].decode()
    return ""


class Destination:
    """A result receiver whose answer a scenario switches: AA, AE, AR, garbage, hold, refuse."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "AA"
        self.accepted: Counter[str] = Counter()  # inbound MSH-10 -> results answered AA
        self.seen = 0
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            self._close()
        elif self._server is None:
            self._open()

    def close(self) -> None:
        self.mode = "closed"
        self._close()

    def _open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.2)
        self._server = server
        thread = threading.Thread(target=self._accept_loop, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()

    def _accept_loop(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder(1 << 22)
        conn.settimeout(0.2)
        started = time.monotonic()
        with conn:
            while time.monotonic() - started < 300 and self.mode not in ("refuse", "closed"):
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    if not self._answer(conn, frame):
                        return

    def _answer(self, conn: socket.socket, frame: bytes) -> bool:
        mode = self.mode
        with self._lock:
            self.seen += 1
        if mode == "hold":
            return True
        if mode == "garbage":
            conn.sendall(encode_frame(b"\x00garbage, not HL7\r"))
            return True
        try:
            header = parse_header(frame)
        except InboundMessageError:
            return False
        code = mode if mode in ("AA", "AE", "AR") else "AA"
        ack = build_ack(header, code, control_id=f"D{time.monotonic_ns()}", timestamp=_now())
        if code == "AA":
            with self._lock:
                self.accepted[original_control_id(frame)] += 1
        conn.sendall(encode_frame(ack))
        return True


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SendStats:
    """What the sender saw."""

    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)  # AA/CA
    rejected: set[str] = field(default_factory=set)  # AR/CR
    resends: int = 0


def make_messages(prefix: str, count: int) -> list[tuple[str, bytes]]:
    """`count` distinct ORU^R01 (control ids PREFIX00000...)."""
    out = []
    for n in range(count):
        text, procedure = REPORTS[n % len(REPORTS)]
        control_id = f"{prefix}{n:05d}"
        out.append(
            (control_id, wrap_oru(text, procedure, control_id=control_id, accession=f"A{n}"))
        )
    return out


async def _send_one(
    port: int, state: dict[str, Any], control_id: str, message: bytes, stats: SendStats,
    ack_timeout: float, deadline: float, stop: threading.Event | None = None,
) -> None:  # fmt: skip
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        try:
            if state.get("writer") is None:
                state["reader"], state["writer"] = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 2
                )
                state["decoder"] = FrameDecoder(1 << 20)
            stats.sent.add(control_id)
            state["writer"].write(encode_frame(message))
            await state["writer"].drain()
            code = await asyncio.wait_for(_read_ack(state), ack_timeout)
        except (OSError, TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            code = "timeout"
        if code in ("AA", "CA"):
            stats.acked.add(control_id)
            return
        if code in ("AR", "CR"):
            stats.rejected.add(control_id)
            return
        stats.resends += 1  # AE/CE, no answer, or a lost connection: resend after a pause
        writer = state.pop("writer", None)
        if writer is not None:
            writer.close()
        await asyncio.sleep(0.5)


async def _read_ack(state: dict[str, Any]) -> str:
    while True:
        data = await state["reader"].read(65536)
        if not data:
            raise ConnectionError("closed")
        answers = state["decoder"].feed(data)
        if answers:
            ack = answers[0]
            start = ack.find(b"MSA|")
            return ack[start + 4 : start + 6].decode() if start >= 0 else "??"


def send_load(
    port: int, messages: list[tuple[str, bytes]], *, rate: float, connections: int = 2,
    ack_timeout: float = 3.0, give_up_after: float = 600.0,
    on_progress: Callable[[int], None] | None = None, stop: threading.Event | None = None,
) -> SendStats:  # fmt: skip
    """Send at `rate` msg/s over `connections`, each in order, resending until acknowledged.

    `stop` set: give up at once (the fault thread failed, nothing will heal).
    """
    stats = SendStats()

    async def main() -> None:
        start = time.monotonic()
        deadline = start + give_up_after
        done = 0

        async def channel(share: list[tuple[int, str, bytes]]) -> None:
            nonlocal done
            state: dict[str, Any] = {}
            for index, control_id, message in share:
                await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
                await _send_one(
                    port, state, control_id, message, stats, ack_timeout, deadline, stop
                )
                done += 1
                if on_progress is not None:
                    on_progress(done)
            if state.get("writer") is not None:
                state["writer"].close()

        indexed = [(i, cid, m) for i, (cid, m) in enumerate(messages)]
        await asyncio.gather(*(channel(indexed[c::connections]) for c in range(connections)))

    asyncio.run(main())
    return stats


class Service:
    """Redis, listener, annotating and delivering workers as separate processes; killable parts."""

    def __init__(
        self, root: Path, destination: Destination, *, database_url: str | None = None,
        data_dir: Path | None = None, settings: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir or root / "data"
        values = dict(CHAOS_SETTINGS, **(settings or {}))
        values["database_url"] = database_url
        self.redis = RedisServer(
            self.data_dir / "redis", appendfsync="always", log_path=self.logs / "redis.log"
        )
        self.env = service_env(
            self.data_dir, self.redis.url, destination=destination.address, **values
        )
        self.listener_port = free_port()
        self.listener: RadflagProcess | None = None
        self.workers: dict[str, RadflagProcess] = {}
        self._old: list[RadflagProcess] = []

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> Service:
        self.redis.start()
        self.start_listener()
        self.start_worker("annotate")
        self.start_worker("deliver")
        return self

    def start_listener(self) -> None:
        self.listener, _ = start_listener(self.env, self.logs, port=self.listener_port)

    def start_worker(self, kind: str) -> None:
        queues = "annotate,store" if kind == "annotate" else "deliver"
        self.workers[kind] = start_worker(
            self.env, self.logs, queues=queues, concurrency=2, name=f"worker-{kind}"
        )

    # -- faults ---------------------------------------------------------------------------

    def kill_listener(self) -> None:
        assert self.listener is not None
        _kill(self.listener.pid)
        self._old.append(self.listener)

    def kill_worker_main(self, kind: str) -> None:
        """SIGKILL the worker's main process only; its pool processes are orphaned."""
        proc = self.workers[kind]
        _kill(proc.pid)
        self._old.append(proc)

    def kill_worker_child(self, kind: str) -> bool:
        children = self.workers[kind].children()
        if children:
            _kill(children[0])
        return bool(children)

    def kill_redis(self) -> None:
        self.redis.kill()

    def restart_redis(self) -> None:
        self.redis.start(timeout=30)

    def pause_redis(self) -> None:
        assert self.redis.process is not None
        os.kill(self.redis.process.pid, signal.SIGSTOP)

    def resume_redis(self) -> None:
        assert self.redis.process is not None
        os.kill(self.redis.process.pid, signal.SIGCONT)

    def kill_tree(self) -> None:
        """Every process at once, as a power cut of the processes (not of the disk)."""
        for proc in [self.listener, *self.workers.values()]:
            if proc is not None and proc.process is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                self._old.append(proc)
        self.redis.kill()

    def restart_tree(self) -> None:
        """What `radflag run` does at start: Redis, restore every unacked task, then the rest."""
        self._reap_old()
        self.restart_redis()
        client = self.client()
        try:
            reconciler.restore_unacked(client, older_than=None)
        finally:
            client.close()
        self.start_listener()
        self.start_worker("annotate")
        self.start_worker("deliver")

    def _reap_old(self) -> None:
        for proc in self._old:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if proc.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.process.wait(5)
        self._old.clear()

    def restart_part(self, part: str) -> None:
        self._reap_old()
        if part == "listener":
            self.start_listener()
        else:
            self.start_worker(part)

    def stop(self) -> None:
        for proc in [self.listener, *self.workers.values()]:
            if proc is not None:
                proc.stop(timeout=10)
        self._reap_old()
        with contextlib.suppress(ProcessLookupError, OSError, AssertionError):
            self.resume_redis()
        self.redis.stop()

    # -- counting -------------------------------------------------------------------------

    def dead_lettered(self, prefix: str) -> set[str]:
        client = self.client()
        try:
            return {e.control_id for e in dlq.entries(client) if e.control_id.startswith(prefix)}
        finally:
            client.close()

    def journalled(self) -> int:
        client = self.client()
        try:
            return journal.size(client)
        finally:
            client.close()

    def rss_mb(self) -> dict[str, float]:
        out = {}
        for name, proc in [("listener", self.listener), *self.workers.items()]:
            if proc is not None:
                out[name] = _rss_mb(proc.pid)
        return out


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Outcome:
    """One scenario's counts (the chaos table's row)."""

    scenario: str
    sent: int
    acked: int
    delivered_once: int
    delivered_more: int
    dead_lettered: int
    lost: int
    rejected: int
    resends: int
    seconds: float
    note: str = ""

    COLUMNS = ("scenario", "sent", "AA/CA", "delivered once", "delivered >1 (same MSH-10)",
               "dead-lettered", "ACKed but lost", "AR", "resends", "s")  # fmt: skip

    def cells(self) -> list[str]:
        return [self.scenario, str(self.sent), str(self.acked), str(self.delivered_once),
                str(self.delivered_more), str(self.dead_lettered), str(self.lost),
                str(self.rejected), str(self.resends), f"{self.seconds:.0f}"]  # fmt: skip


def count(
    service: Service, destination: Destination, prefix: str, stats: SendStats, *,
    settle_timeout: float,
) -> tuple[set[str], set[str], set[str]]:  # fmt: skip
    """Wait (bounded) until every acknowledged message is delivered or dead-lettered.

    Returns (delivered, dead-lettered, lost) inbound control ids.
    """

    def accounted() -> tuple[set[str], set[str], set[str]]:
        with destination._lock:
            delivered = {c for c in destination.accepted if c.startswith(prefix)}
        dead = service.dead_lettered(prefix)
        return delivered, dead, stats.acked - delivered - dead

    with contextlib.suppress(AssertionError):
        wait_until(lambda: not accounted()[2], timeout=settle_timeout, interval=0.5,
                   what="every acknowledged message delivered or dead-lettered")  # fmt: skip
    return accounted()


def markdown_table(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(Outcome.COLUMNS) + " |",
             "|" + "---|" * len(Outcome.COLUMNS)]  # fmt: skip
    lines += ["| " + " | ".join(o.cells()) + " |" for o in outcomes]
    return "\n".join(lines)


def mount_tmpfs(path: Path, size_mb: int) -> bool:
    """A small tmpfs at `path` (root only); False when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    return done.returncode == 0


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(path: Path) -> Path:
    """Fill the file system of `path` to the last byte; returns the filler file."""
    filler = path / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        block = b"\0" * (1 << 20)
        for _ in range(1 << 14):  # bounded: 16 GiB
            out.write(block)
            out.flush()
    with contextlib.suppress(OSError), filler.open("ab") as out:
        for _ in range(1 << 20):  # the last partial megabyte, kilobyte by kilobyte
            out.write(b"\0" * 1024)
            out.flush()
    return filler


def free_disk(filler: Path) -> None:
    filler.unlink(missing_ok=True)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
