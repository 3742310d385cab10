"""The reconciler: journal entries whose task vanished are queued again; abandoned tasks return.

Strategy: a pass (`reconcile`) does two things, both bounded in count:

1. Tasks that kombu holds as unacknowledged (hash `unacked`, with the delivery
   time in `unacked_index`) for longer than the visibility timeout belong to a
   worker that died: they go back to their queue (`restore_unacked`; kombu does
   the same, but only every 100 s or so and only while a worker polls an empty
   queue). At `radflag run`'s start, under its data-dir lock, every
   unacknowledged task is restored at once (`older_than=None`): nobody else can
   hold them.
2. Journal entries (worker/journal.py) idle for `journal_requeue_after`
   seconds, whose dedupe key appears in no queue and no unacknowledged task,
   are queued again (worker/journal_requeue.lua re-checks, atomically, that the
   entry is still there and untouched). An idle entry whose task is in flight
   (a delivery retrying for hours) is marked as seen, so that a pass, bounded to
   the 1,000 oldest, does not look at the same ones forever.

The listener runs a pass at its start and then every `journal_interval`
seconds, in a thread beside its event loop; a Redis key (SET NX EX) lets one
pass run at a time across many listeners on one Redis. Cost: one scan of the
queues and of `unacked` per pass, and only when some entry is idle that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import redis

from worker import intake_batches, journal, keys
from worker.celery_app import task_envelope
from worker.settings import Settings

log = logging.getLogger(__name__)

RESTORE_SCRIPT = resources.files("worker").joinpath("restore_unacked.lua").read_text()
SCAN_CHUNK = 500
PASS_LIMIT = 1000  # journal entries and unacked tasks handled per pass


@dataclass(frozen=True)
class PassReport:
    """What one pass did."""

    restored: int  # abandoned tasks put back on their queue
    requeued: int  # journal entries queued again
    idle: int  # journal entries idle long enough to be looked at
    skipped: bool = False  # another pass was running


def restore_unacked(
    client: redis.Redis,
    *,
    older_than: float | None = None,
    now: float | None = None,
    limit: int | None = None,
    queues: set[str] | None = None,
    tags: Iterable[bytes | str] | None = None,
) -> int:
    """Put unacknowledged tasks back on their queues; return how many.

    `older_than` None: all of them (only safe when no worker is running, e.g.
    under the data-dir lock at start); else those delivered to a worker more
    than `older_than` seconds ago. `queues`: only tasks of these queues (say,
    a restarted worker's own, when it was their only consumer). `tags`: exactly
    these delivery tags (a worker's own, see worker/failover_consumer.py).
    """
    now = time.time() if now is None else now
    chosen: Iterable[bytes | str]
    if tags is not None:
        chosen = tags
    elif older_than is None:
        chosen = client.hkeys(keys.UNACKED_KEY)  # type: ignore[assignment]
    else:
        chosen = client.zrangebyscore(  # type: ignore[assignment]
            keys.UNACKED_INDEX_KEY, "-inf", now - older_than, start=0, num=limit or PASS_LIMIT
        )
    script = client.register_script(RESTORE_SCRIPT)
    restored = 0
    for count, tag in enumerate(chosen):
        if limit is not None and count >= limit:
            break
        raw: bytes | None = client.hget(keys.UNACKED_KEY, tag)  # type: ignore[arg-type, assignment]
        if raw is None:
            client.zrem(keys.UNACKED_INDEX_KEY, tag)
            continue
        try:
            payload, _exchange, routing_key = json.loads(raw)
            queue = routing_key if routing_key in keys.QUEUES else keys.QUEUE_ANNOTATE
            if queues is not None and queue not in queues:
                continue
            payload.setdefault("headers", {})["redelivered"] = True
            payload.get("properties", {}).get("delivery_info", {})["redelivered"] = True
        except (ValueError, TypeError, AttributeError):
            log.error("unacknowledged task with an unreadable envelope left in place")
            continue
        restored += int(
            script(
                keys=[keys.UNACKED_KEY, keys.UNACKED_INDEX_KEY, queue],
                args=[tag, raw, json.dumps(payload)],
            )
        )
    return restored


def dedupe_keys_in_flight(client: redis.Redis) -> set[str]:
    """Dedupe keys of every task waiting in a queue or held unacknowledged by a worker."""
    found: set[str] = set()
    for queue in keys.QUEUES:
        start = 0
        while True:
            chunk = client.lrange(queue, start, start + SCAN_CHUNK - 1)
            for carried in intake_batches.dedupe_keys_of_tasks(client, chunk):  # type: ignore[arg-type]
                found.update(carried)
            if len(chunk) < SCAN_CHUNK:  # type: ignore[arg-type]
                break
            start += SCAN_CHUNK
    held: list[bytes | str] = []
    for _tag, raw in client.hscan_iter(keys.UNACKED_KEY, count=SCAN_CHUNK):
        with contextlib.suppress(ValueError, TypeError, IndexError):
            held.append(json.dumps(json.loads(raw)[0]))
    for carried in intake_batches.dedupe_keys_of_tasks(client, held):
        found.update(carried)
    found.discard("")
    return found


def reconcile(
    client: redis.Redis,
    *,
    requeue_after: float,
    visibility_timeout: float,
    now: float | None = None,
    lock_seconds: float = 60.0,
) -> PassReport:
    """One pass: restore abandoned tasks, queue idle journal entries with no task again."""
    now = time.time() if now is None else now
    token = uuid.uuid4().hex
    if not client.set(keys.RECONCILE_LOCK_KEY, token, nx=True, ex=max(1, int(lock_seconds))):
        return PassReport(restored=0, requeued=0, idle=0, skipped=True)
    try:
        restored = restore_unacked(client, older_than=visibility_timeout, now=now)
        idle = journal.idle_entries(client, older_than=requeue_after, now=now, limit=PASS_LIMIT)
        requeued = 0
        if idle:
            busy = dedupe_keys_in_flight(client)
            in_flight = [e.id for e in idle if e.kwargs.get("dedupe_key") in busy]
            if in_flight:  # to the back of the line: the next pass looks at others first
                client.zadd(keys.JOURNAL_SINCE_KEY, dict.fromkeys(in_flight, now), xx=True)
            for entry in idle:
                if entry.kwargs.get("dedupe_key") in busy:
                    continue
                queue, envelope = task_envelope(entry.task, entry.kwargs)
                if journal.requeue(client, entry, queue, envelope, now=now):
                    requeued += 1
                    log.warning(
                        "journal: queued again control_id=%s task=%s idle=%.0fs",
                        entry.kwargs.get("control_id", "?"),
                        entry.task,
                        now - entry.since,
                    )
        if restored:
            log.warning("restored %d abandoned unacknowledged tasks", restored)
        return PassReport(restored=restored, requeued=requeued, idle=len(idle))
    finally:
        with contextlib.suppress(redis.RedisError):
            if client.get(keys.RECONCILE_LOCK_KEY) == token.encode():
                client.delete(keys.RECONCILE_LOCK_KEY)


def restore_at_start(settings: Settings, redis_url: str) -> int:
    """At `radflag run`'s start, under the data-dir lock: every unacknowledged task returns.

    `restore_unacked` auto does it for the embedded Redis only: an external one
    may be shared with workers of other machines, whose tasks are in flight;
    there the visibility timeout brings abandoned tasks back (README "Durability").
    """
    if settings.restore_unacked == "no" or (
        settings.restore_unacked == "auto" and settings.redis_url
    ):
        return 0
    client = keys.redis_client(redis_url, master_name=settings.redis_master_name)
    try:
        restored = restore_unacked(client, older_than=None)
    finally:
        client.close()
    if restored:
        log.warning("restored %d unacknowledged tasks of the previous run", restored)
    return restored


async def run_periodically(
    client: redis.Redis,
    *,
    interval: float,
    requeue_after: float,
    visibility_timeout: float,
    stop: asyncio.Event,
) -> None:
    """Reconcile now and every `interval` s until `stop` is set; Redis errors skip a pass."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(
                reconcile,
                client,
                requeue_after=requeue_after,
                visibility_timeout=visibility_timeout,
                lock_seconds=max(interval, 30.0),
            )
        except redis.RedisError as e:
            log.warning("reconciler pass skipped: %s", type(e).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
