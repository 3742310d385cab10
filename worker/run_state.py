"""What `radflag run` says about its parts, for /readyz: a small JSON file in the data dir.

The supervisor rewrites it (atomically: a temporary file renamed over it)
whenever a part starts, dies or is being restarted, and removes it at stop.
/readyz of the web child reads it, so that "ready" is false while the
listener, a worker pool or the embedded Redis is down and being restarted.
Without the file (the parts run on their own, not under `radflag run`)
nothing is claimed.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

RUNNING = "running"
RESTARTING = "restarting"


def state_file(data_dir: Path) -> Path:
    return data_dir / "run-state.json"


def write(data_dir: Path, parts: dict[str, str]) -> None:
    """Record each part's state (RUNNING or RESTARTING)."""
    path = state_file(data_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"parts": parts}, sort_keys=True))
    os.replace(tmp, path)


def read(data_dir: Path) -> dict[str, str] | None:
    """The parts and their states, or None when no `radflag run` wrote any (or it is unreadable)."""
    try:
        parts = json.loads(state_file(data_dir).read_text())["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(parts, dict):
        return None
    return {str(k): str(v) for k, v in parts.items()}


def remove(data_dir: Path) -> None:
    with contextlib.suppress(OSError):
        state_file(data_dir).unlink()


def down(parts: dict[str, str] | None) -> list[str]:
    """Names of the parts that are not running."""
    return sorted(name for name, state in (parts or {}).items() if state != RUNNING)
