"""Is the message store reachable now? For /readyz: a bounded probe that never piles up.

Strategy: `SELECT 1` through the store's engine in one daemon thread, waited for
at most `timeout` seconds. A database that hangs (PostgreSQL behind a dead
route) keeps that one thread busy; while it is, further probes answer "not
ready" at once instead of starting more threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import text

from worker.store import Store

_probing = threading.Lock()


def probe(get_store: Callable[[], Store], *, timeout: float = 0.5) -> str | None:
    """None when the store answered within `timeout` s, else why not (no health data)."""
    if not _probing.acquire(blocking=False):
        return "store probe still waiting for an earlier answer"
    outcome: list[str | None] = []

    def run() -> None:
        try:
            with get_store().engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            outcome.append(None)
        except Exception as e:  # any failure means "not ready"; the type says which
            outcome.append(f"store unavailable: {type(e).__name__}")
        finally:
            _probing.release()

    threading.Thread(target=run, name="store-probe", daemon=True).start()
    deadline = threading.Event()
    for _ in range(max(1, int(timeout / 0.01))):
        if outcome:
            return outcome[0]
        deadline.wait(0.01)
    return outcome[0] if outcome else f"store did not answer within {timeout:g} s"
