"""The state file of a `radflag backfill` run: what makes the same command again a resume.

One small JSON file per set of inputs, under `DATA_DIR/backfill/` (named by a
hash of the resolved input paths) or where `--state FILE` says: the run id (its
Redis report list), the receipt time every report of the run gets (so a batch
run twice builds the same result MSH-10, worker.tasks.result_control_id), the
inputs, and whether the run finished. Which reports are done is not kept here:
the message store says that (worker/backfill_store.py), so a lost or deleted
state file costs nothing but a new run id; the reports are still skipped.
Written atomically (a temporary file renamed over it), 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


class StateError(Exception):
    """The state file cannot be read or written; the message names it."""


@dataclass
class RunState:
    run_id: str
    received_at: str  # ISO 8601, UTC
    inputs: list[str]
    started_at: str
    finished: bool = False
    invocations: int = 1


def default_state_path(data_dir: Path, files: list[Path]) -> Path:
    """`DATA_DIR/backfill/<hash of the input files>.json`."""
    names = "\0".join(str(p.resolve()) for p in files)
    return data_dir / "backfill" / f"{hashlib.sha256(names.encode()).hexdigest()[:16]}.json"


def load_or_start(
    path: Path, files: list[Path], *, now: datetime | None = None
) -> tuple[RunState, bool]:
    """The unfinished run of `path` (resumed: True), or a new one written there."""
    if path.exists():
        state = _read(path)
        if not state.finished:
            state.invocations += 1
            save(path, state)
            return state, True
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    state = RunState(
        run_id=uuid.uuid4().hex[:16],
        received_at=moment.isoformat(),
        inputs=[str(p.resolve()) for p in files],
        started_at=moment.isoformat(),
    )
    save(path, state)
    return state, False


def save(path: Path, state: RunState) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(state), out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as e:
        raise StateError(f"{path}: cannot write the backfill state ({e.strerror or e})") from e


def _read(path: Path) -> RunState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunState(
            run_id=str(data["run_id"]),
            received_at=datetime.fromisoformat(data["received_at"]).isoformat(),
            inputs=[str(p) for p in data["inputs"]],
            started_at=str(data["started_at"]),
            finished=bool(data.get("finished", False)),
            invocations=int(data.get("invocations", 1)),
        )
    except OSError as e:
        raise StateError(f"{path}: cannot read the backfill state ({e.strerror or e})") from e
    except (ValueError, KeyError, TypeError) as e:
        raise StateError(
            f"{path}: not a backfill state file ({type(e).__name__}); remove it to start afresh"
        ) from e
