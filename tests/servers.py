"""Real services for tests: a redis-server, radflag processes (listener, Celery workers) and
a test MLLP destination, all on 127.0.0.1, every wait bounded.

Others import these (the store, metrics and status tests); fixtures built on
them live in tests/worker/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from hl7.ack import build_ack
from hl7.errors import InboundMessageError
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.result_validation import validate_result
from worker.redis_server import RedisServer, free_port
from worker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

__all__ = [
    "MllpDestination",
    "RadflagProcess",
    "RedisServer",
    "free_port",
    "mllp_exchange",
    "service_env",
    "start_listener",
    "start_redis",
    "start_worker",
    "wait_until",
]


def run_listener(
    settings: Settings,
    redis_url: str,
    scenario: Callable[[Any], Awaitable[Any]],
    *,
    intake_class: type[Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Any:
    """Start an MllpListener on a free 127.0.0.1 port, run `scenario(listener)`, stop it.

    The scenario is bounded to 30 s; the listener stops with a 5 s grace.
    """
    from worker import keys
    from worker.listener import Intake, MllpListener

    async def main() -> Any:
        client = keys.async_redis_client(redis_url)
        listener = MllpListener(
            settings,
            (intake_class or Intake)(client, settings.duplicate_window),
            host="127.0.0.1",
            port=0,
            ssl_context=ssl_context,
        )
        await listener.start()
        try:
            return await asyncio.wait_for(scenario(listener), 30)
        finally:
            await listener.stop(grace=5)
            await client.aclose()

    return asyncio.run(main())


def accepts(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_until(
    predicate: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def start_redis(data_dir: Path, *, port: int = 0, appendfsync: str = "everysec") -> RedisServer:
    """A real redis-server with AOF in `data_dir` on a free loopback port."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = RedisServer(
        data_dir, port=port, appendfsync=appendfsync, log_path=data_dir / "redis.log"
    )
    return server.start()


def service_env(data_dir: Path, redis_url: str, **settings: Any) -> dict[str, str]:
    """Environment for radflag processes: test-friendly settings as RADFLAG_* variables.

    Short delivery timeouts and backoff so that retries happen within a test.
    """
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "redis_url": redis_url,
        "delivery_timeout": 2.0,
        "delivery_backoff_base": 0.2,
        "delivery_backoff_max": 1.0,
        "log_level": "INFO",
    }
    values.update(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADFLAG_")}
    env.update({f"RADFLAG_{k.upper()}": str(v) for k, v in values.items() if v is not None})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class RadflagProcess:
    """A `radflag` subcommand running as a child process, output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> RadflagProcess:
        code = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: stop() takes the pool along
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, *, timeout: float) -> None:
        def seen() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            return text in self.log()

        wait_until(seen, timeout=timeout, interval=0.1, what=f"{text!r} in the {self.name} log")

    def children(self) -> list[int]:
        """Pids of this process's direct children (a Celery worker's pool processes)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in path.read_text().split()]
        return []

    def stop(self, *, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait, then SIGKILL the whole process group; return the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        return self.process.returncode


def start_listener(
    env: dict[str, str], log_dir: Path, *, port: int | None = None
) -> tuple[RadflagProcess, int]:
    """`radflag listen` on a free port; returns once the port accepts connections."""
    port = port or free_port()
    env = dict(env, RADFLAG_MLLP_PORT=str(port), RADFLAG_MLLP_HOST="127.0.0.1")
    proc = RadflagProcess("listener", ["listen"], env, log_dir / f"listener-{port}.log").start()
    proc.wait_for_log("MLLP listener on", timeout=30)
    return proc, port


def start_worker(
    env: dict[str, str], log_dir: Path, *, queues: str, concurrency: int = 1, name: str = ""
) -> RadflagProcess:
    """`radflag worker` for `queues`; returns once Celery says it is ready."""
    name = name or f"worker-{queues.replace(',', '-')}"
    env = dict(env, RADFLAG_CONCURRENCY=str(concurrency))
    log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
    proc = RadflagProcess(name, ["worker", "--queues", queues], env, log_path).start()
    proc.wait_for_log(" ready.", timeout=90)
    return proc


def mllp_exchange(port: int, messages: list[bytes], *, timeout: float = 10.0) -> list[bytes]:
    """Send `messages` on one connection (pipelined) and return one answer per message."""
    decoder = FrameDecoder(1 << 20)
    answers: list[bytes] = []
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(encode_frame(m) for m in messages))
        while len(answers) < len(messages):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                break
            answers.extend(decoder.feed(data))
    return answers


@dataclass
class MllpDestination:
    """A test result receiver: records every message and answers with `code` (or not at all).

    `code` may be a fixed ACK code, or "hold" to read and never answer (a stuck
    destination); `stop()` closes the port (destination down) and `start()`
    opens it again on the same port.
    """

    code: str = "AA"
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() per received message
    # Every result received goes through hl7apy's validation; what failed, and why.
    invalid: list[str] = field(default_factory=list)
    # False for benchmarks: hl7apy takes tens of ms a message, CPU the service under
    # test would lose to the destination (a real one runs on another machine).
    validate: bool = True
    _server: socket.socket | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    def start(self) -> MllpDestination:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        server.settimeout(0.2)
        self.port = server.getsockname()[1]
        self._server = server
        self._thread = threading.Thread(target=self._accept_loop, args=(server,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def control_ids(self) -> list[str]:
        with self._lock:
            return [parse_header(m).control_id for m in self.received]

    def wait_for(self, count: int, *, timeout: float) -> list[bytes]:
        """Block until at least `count` messages arrived; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                assert not self.invalid, f"invalid results delivered: {self.invalid}"
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} results arrived")
                self._arrived.wait(left)
            assert not self.invalid, f"invalid results delivered: {self.invalid}"
            return list(self.received)

    def _check(self, frame: bytes) -> None:
        if not self.validate:
            return
        try:
            validate_result(frame)
        except AssertionError as e:
            with self._lock:
                self.invalid.append(str(e)[:500])

    def _accept_loop(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder(1 << 22)
        conn.settimeout(0.2)
        started = time.monotonic()
        with conn:
            while time.monotonic() - started < 120:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    if self._server is None:
                        return
                    continue
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    code = self.code
                    with self._arrived:
                        self.received.append(frame)
                        self.arrivals.append(time.monotonic())
                        self._arrived.notify_all()
                    if code == "hold":
                        self._check(frame)
                        continue
                    try:
                        header = parse_header(frame)
                    except InboundMessageError:
                        return
                    ack = build_ack(
                        header,
                        code,
                        control_id=f"D{time.monotonic_ns()}",
                        timestamp=datetime.now(UTC),
                    )
                    conn.sendall(encode_frame(ack))
                    self._check(frame)  # after the ACK: the check takes no delivery time


@contextlib.contextmanager
def running(*processes: RadflagProcess) -> Iterator[None]:
    """Stop the given processes on exit, whatever happened."""
    try:
        yield
    finally:
        for proc in processes:
            proc.stop()
