"""A real PostgreSQL server for tests: Debian's `postgresql` binaries on a free loopback port.

initdb and postgres refuse to run as root, and CI runs the tests as root, so
then the server runs as the `postgres` system user (created by the Debian
package) through `runuser`; its data directory lives in a fresh directory under
/tmp that this user owns. Authentication is `trust`, on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 30.0


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/*/bin; raises RuntimeError when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: p.split("/")[4])
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/install-system-deps")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class PostgresServer:
    """One throw-away PostgreSQL cluster; `url(db)` gives SQLAlchemy URLs into it."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="radflag-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str, timeout: float = START_TIMEOUT) -> None:
        subprocess.run(
            _as_server_user([str(self.bin / argv[0]), *argv[1:]]),
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """initdb and start the server; returns once it accepts connections."""
        self._run("initdb", "-D", str(self.data), "-U", "radflag", "--auth=trust", "-E", "UTF8")
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )

    def pause(self) -> None:
        """Stop the server as a crash would (immediate), keeping its files: an outage."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start the paused server again (same port and files)."""
        self._pg_ctl_start()

    def stop(self) -> None:
        """Stop the server and remove its files."""
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://radflag@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=radflag dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server for the block; stopped and removed afterwards."""
    server = PostgresServer()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        server.start()
        while time.monotonic() < deadline:  # pg_ctl -w waited; belt and braces
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", server.port), timeout=1),
            ):
                break
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
