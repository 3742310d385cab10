"""Health data at rest is private: the data dir 0700, files in it 0600 (issue 15, item 10).

Strategy: `radflag run` (and every service command) sets the process umask
to 077 before it creates anything, so the files it and its children create
(Redis' append-only file and config, SQLite and its WAL, logs, the URL file)
are 0600 and directories 0700; children inherit the umask. The data dir is
created 0700, or tightened to 0700 if it exists more open, and files already
in it that are readable by others (from an older version) are tightened once
at start.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def set_private_umask() -> int:
    """Set the umask so new files are 0600 and directories 0700; return the old umask."""
    return os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed and make it 0700. Raises OSError."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)


def tighten_tree(root: Path, *, limit: int = 10_000) -> int:
    """Make existing directories under `root` 0700 and files 0600; return how many changed.

    Bounded to `limit` entries (a data dir holds a handful); symlinks are left alone.
    """
    changed = 0
    for count, (directory, dirnames, filenames) in enumerate(os.walk(root)):
        if count >= limit:
            break
        for name, mode in [(d, DIR_MODE) for d in dirnames] + [(f, FILE_MODE) for f in filenames]:
            path = Path(directory) / name
            with contextlib.suppress(OSError):
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    continue
                if stat.S_IMODE(info.st_mode) & 0o077:
                    path.chmod(mode)
                    changed += 1
    return changed
