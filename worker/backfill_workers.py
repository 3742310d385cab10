"""Who works on a backfill: the workers already consuming the `backfill` queue, or local ones.

Every `radflag worker` with the default queues and every `radflag run` consumes
`backfill` (after their live queues), on every machine sharing the Redis: a
backfill submitted anywhere is worked on by all of them. When none answers,
`radflag backfill` starts `radflag worker --queues backfill` here with one pool
process per core (`os.cpu_count()`), and stops it when it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from worker import keys
from worker.settings import Settings
from worker.supervisor import _die_with_parent, radflag_command, settings_env


def backfill_consumers(app: Any, *, timeout: float = 1.0) -> list[str]:
    """Names of the workers that answered within `timeout` s and consume the backfill queue."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(
        name
        for name, queues in replies.items()
        if any(q.get("name") == keys.QUEUE_BACKFILL for q in queues or [])
    )


def pool_processes(app: Any, names: list[str], *, timeout: float = 1.0) -> int:
    """Pool processes of the workers `names` (Celery's stats), 2 each for one that does not say."""
    if not names:
        return 0
    stats = app.control.inspect(destination=names, timeout=timeout).stats() or {}
    total = 0
    for name in names:
        pool = (stats.get(name) or {}).get("pool") or {}
        count = pool.get("max-concurrency")
        total += count if isinstance(count, int) and count > 0 else 2
    return total


class LocalWorkers:
    """A `radflag worker --queues backfill` child with `processes` pool processes."""

    def __init__(self, settings: Settings, redis_url: str, processes: int, log_path: Path) -> None:
        self.processes = processes
        self.log_path = log_path
        env = settings_env(settings, redis_url)
        env["RADFLAG_CONCURRENCY"] = str(processes)
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                radflag_command("worker", "--queues", keys.QUEUE_BACKFILL),
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group (Ctrl-C on the terminal is ours to pass on), and
                # SIGTERM from the kernel if this command dies, even by SIGKILL.
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, app: Any, *, timeout: float) -> bool:
        """True once a worker of ours answers; False when it exited or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            names = backfill_consumers(app, timeout=0.5)
            if any(f"-{self.pid}@" in name for name in names):
                return True
            time.sleep(0.2)
        return False

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else -1

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, *, timeout: float = 20.0) -> None:
        """SIGTERM (Celery's warm shutdown: running batches finish), then SIGKILL the group."""
        if self._process is None:
            return
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(5)
