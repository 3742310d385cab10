"""Celery's consumer, plus: after it reconnects (a Redis restart, a Sentinel failover), the
tasks whose acknowledgement the lost connection swallowed go back to their queue at once.

Strategy: when the broker connection drops, Celery's consumer (`on_close`)
forgets the tasks it had reserved but not started (prefetched, or waiting
for a retry's ETA), and the tasks it was running finish but acknowledge, or
reject after a retry that could not be published, on the dead channel. kombu's
Redis transport still holds every one of them in its `unacked` hash, where
only the visibility timeout (minutes here) brings them back: after a
failover, acknowledged messages waited that long with nobody working on them
(found by tests/reliability/test_failover.py; kombu's own restore at close
cannot reach a dead primary).

This consumer remembers the delivery tags it received on the current
connection (the last MAX_REMEMBERED); when the connection drops, those
become candidates, and once reconnected it puts each candidate back whose
task is no longer reserved or running (checked every second), with the
reconciler's restore (a task still "running" one task time limit after the
drop counts as finished: a reject that failed on the dead channel leaves its
request behind in Celery's bookkeeping), which acts only if the tag is still in `unacked`
exactly as read: a task that was acknowledged before the drop is left alone.
A task that completed but whose ack was lost runs again: a duplicate the
store absorbs and a result sent again with the same MSH-10, as after the
visibility timeout, only sooner (delivery is at least once, README "Durability").
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

import redis
from celery import signals
from celery.worker.consumer import Consumer
from celery.worker.state import active_requests, reserved_requests

log = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000  # delivery tags of the current connection (prefetch 1: plenty)
CHECK_INTERVAL = 1.0


class RestoringConsumer(Consumer):
    """See the module docstring; set as Celery's `worker_consumer` in worker.celery_app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: OrderedDict[str, Any] = OrderedDict()  # tag -> Request, this connection
        self.candidates: dict[str, Any] = {}  # tag -> Request, from connections that dropped
        self.lost_at: dict[str, float] = {}  # tag -> time.monotonic() of its connection's drop
        self._check_timer: Any = None
        signals.task_received.connect(self._on_received, weak=False)

    def _on_received(self, request: Any = None, **_: Any) -> None:
        tag = _tag(request)
        if tag is None:
            return
        self.received[tag] = request
        while len(self.received) > MAX_REMEMBERED:
            self.received.popitem(last=False)

    def on_close(self) -> None:
        log.info("broker connection lost: %d task(s) of it to check", len(self.received))
        now = time.monotonic()
        self.lost_at.update(dict.fromkeys(self.received, now))
        self.candidates.update(self.received)
        self.received.clear()
        self._check_timer = None  # Celery's on_close clears the timer
        super().on_close()

    def connect(self) -> Any:
        connection = super().connect()
        if self.candidates and self._check_timer is None and self.timer is not None:
            self._check_timer = self.timer.call_repeatedly(CHECK_INTERVAL, self.restore_idle)
        return connection

    def restore_idle(self) -> int:
        """Put back the candidates whose task is neither reserved nor running any more."""
        busy = set(active_requests) | set(reserved_requests)
        limit, now = _busy_limit(), time.monotonic()
        idle = [
            tag
            for tag, request in self.candidates.items()
            if request not in busy or now - self.lost_at.get(tag, now) > limit
        ]
        if not idle:
            return 0
        restored = _restore(idle)
        log.info("checked %d task(s) of a lost connection: %s restored", len(idle), restored)
        if restored is None:
            return 0
        for tag in idle:
            self.candidates.pop(tag, None)
            self.lost_at.pop(tag, None)
        return restored


def _busy_limit() -> float:
    """Seconds after which a task of a dropped connection cannot still be running."""
    from worker.celery_app import current_settings

    try:
        return current_settings().task_time_limit + 5.0
    except RuntimeError:
        return 305.0


def _tag(request: Any) -> str | None:
    tag = getattr(getattr(request, "message", None), "delivery_tag", None)
    return str(tag) if tag else None


def _restore(tags: list[str]) -> int | None:
    """Restore `tags` still in `unacked` to their queues; None (logged) when Redis refuses."""
    from worker.celery_app import broker_client
    from worker.reconciler import restore_unacked

    client = broker_client()
    try:
        restored = restore_unacked(client, tags=tags)
    except redis.RedisError as e:
        log.warning("tasks of the lost connection not restored yet: %s", type(e).__name__)
        return None
    finally:
        client.close()
    if restored:
        log.warning(
            "broker connection back: %d task(s) whose ack was lost put back on their queue",
            restored,
        )
    return restored
