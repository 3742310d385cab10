"""A real Redis primary, replicas and Sentinels on 127.0.0.1 (Debian's redis-server 7 and
redis-sentinel), for the failover tests. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from worker.redis_server import RedisServer, free_port

MASTER_NAME = "radflag-test"


def debian_binary(name: str) -> str:
    """/usr/bin/NAME; the failover tests need Debian's packages (scripts/install-system-deps)."""
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run scripts/install-system-deps (Debian {name})")
    return found


@dataclass
class SentinelProcess:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, primary_port: int, quorum: int) -> SentinelProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "sentinel.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f'dir "{self.directory}"',
                    f'logfile "{self.directory / "sentinel.log"}"',
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} {quorum}",
                    f"sentinel down-after-milliseconds {MASTER_NAME} 1000",
                    f"sentinel failover-timeout {MASTER_NAME} 10000",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen(
            [debian_binary("redis-sentinel"), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@dataclass
class SentinelCluster:
    """One primary, `replicas` replicas and `sentinels` Sentinels (quorum: a majority)."""

    base: Path
    replicas: int = 2
    sentinels: int = 3
    servers: list[RedisServer] = field(default_factory=list)
    watchers: list[SentinelProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ";".join(f"sentinel://127.0.0.1:{s.port}" for s in self.watchers) + "/0"

    def start(self, *, timeout: float = 60.0) -> SentinelCluster:
        binary = debian_binary("redis-server")
        primary = RedisServer(self.base / "redis-0", binary=binary, log_path=self.base / "r0.log")
        self.servers.append(primary.start())
        for index in range(1, self.replicas + 1):
            replica = RedisServer(
                self.base / f"redis-{index}",
                binary=binary,
                log_path=self.base / f"r{index}.log",
                extra_config=(f"replicaof 127.0.0.1 {primary.port}",),
            )
            self.servers.append(replica.start())
        quorum = self.sentinels // 2 + 1
        for index in range(self.sentinels):
            watcher = SentinelProcess(free_port(), self.base / f"sentinel-{index}")
            self.watchers.append(watcher.start(primary.port, quorum))
        self._wait_settled(timeout)
        return self

    def _wait_settled(self, timeout: float) -> None:
        """Until every Sentinel sees the primary, all replicas and all other Sentinels."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._settled(w) for w in self.watchers):
                return
            time.sleep(0.2)
        raise AssertionError(f"Sentinels did not settle within {timeout:g} s")

    def _settled(self, watcher: SentinelProcess) -> bool:
        try:
            state = watcher.client().execute_command("SENTINEL", "MASTER", MASTER_NAME)
        except redis.RedisError:
            return False
        info = dict(zip(state[::2], state[1::2], strict=False))
        return (
            int(info.get(b"num-slaves", 0)) == self.replicas
            and int(info.get(b"num-other-sentinels", 0)) == self.sentinels - 1
        )

    def primary_port(self) -> int | None:
        """The primary's port according to the Sentinels (None if none answers)."""
        for watcher in self.watchers:
            with contextlib.suppress(redis.RedisError):
                host_port = watcher.client().execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
                )
                if host_port:
                    return int(host_port[1])
        return None

    def primary(self) -> RedisServer:
        port = self.primary_port()
        for server in self.servers:
            if server.port == port and server.process is not None:
                return server
        raise AssertionError(f"no running server on the primary's port {port}")

    def kill_primary(self) -> int:
        """SIGKILL the current primary; returns its port."""
        server = self.primary()
        server.kill()
        return server.port

    def wait_new_primary(self, old_port: int, *, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            port = self.primary_port()
            if port is not None and port != old_port:
                client = redis.Redis(port=port, socket_timeout=1)
                with contextlib.suppress(redis.RedisError):
                    if client.info("replication").get("role") == "master":
                        return port
            time.sleep(0.2)
        raise AssertionError(f"no new primary within {timeout:g} s")

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stop()
        for server in self.servers:
            server.stop()
