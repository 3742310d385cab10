"""The data-dir lock: one `radflag run` per data directory.

Strategy: `flock(LOCK_EX | LOCK_NB)` on `DATA_DIR/radflag.lock`, held for the
life of the process (and of its children, which inherit the descriptor: the
lock is free only once every process of a run is gone, even after a SIGKILL of
the supervisor). The kernel drops it when the last holder exits, so a crash
never leaves a stale lock to clean up by hand. The file holds the pid of the
holder, for the error message only.

Holding it is what makes recovery at start safe: no other `radflag run` uses
this data dir's Redis, so every task it holds as unacknowledged belongs to a
run that is gone and can be queued again at once (worker/reconciler.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_NAME = "radflag.lock"


class DataDirLocked(RuntimeError):
    """Another process holds the data dir."""


class DataDirLock:
    """An acquired lock; `fileno` to hand to children, `release` (or exit) to free it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def acquire(data_dir: Path) -> DataDirLock:
    """Lock `data_dir` (created if missing) for this process.

    Raises DataDirLocked naming the holder's pid when another process has it,
    and OSError when the lock file cannot be created.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise DataDirLocked(
            f"data dir {data_dir} is in use by another radflag run"
            + (f" (pid {holder})" if holder else "")
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(path, fd)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    return None
