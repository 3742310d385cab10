"""What `radflag status`, /readyz and /metrics report: queues, workers, dead letters, errors.

Strategy: one `gather` reads everything once (Redis through worker.keys, the
workers by a Celery ping, the store's counts), so the status command and the
metrics endpoint can never disagree about what they show. A part that cannot
be reached is reported as such instead of failing the whole report.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Celery

from worker import journal, keys
from worker.settings import Settings
from worker.store import Store
from worker.store_queries import StoreCounts, StoredError

log = logging.getLogger(__name__)

PING_TIMEOUT = 1.0


@dataclass(frozen=True)
class ServiceStatus:
    """One reading of the service's state."""

    at: datetime
    redis_ok: bool
    redis_error: str | None = None
    queue_depths: dict[str, int] = field(default_factory=dict)
    in_progress: int = 0  # handed to a worker, not yet acknowledged
    workers: list[str] = field(default_factory=list)
    oldest_waiting_seconds: float | None = None
    dlq_size: int | None = None
    store_ok: bool = True
    store_error: str | None = None
    counts: StoreCounts = field(default_factory=StoreCounts)
    last_errors: list[StoredError] = field(default_factory=list)
    journal: int | None = None  # accepted messages whose outcome is not kept yet

    @property
    def ready(self) -> bool:
        """Redis reachable and at least one worker answering."""
        return self.redis_ok and bool(self.workers)


def broker_url(settings: Settings) -> str | None:
    """The Redis URL the service uses: the configured one, or a running `radflag run`'s."""
    return keys.resolve_redis_url(settings)


@functools.lru_cache(maxsize=4)
def _ping_app(url: str, master_name: str = keys.DEFAULT_MASTER_NAME) -> Celery:
    # A small app of our own, so the status reader never reconfigures the workers' app.
    ping_app = Celery("radflag-status", broker=keys.broker_url_for(url), set_as_current=False)
    ping_app.conf.broker_transport_options = keys.broker_transport_options(url, master_name)
    return ping_app


def read_redis(
    client: redis.Redis,
    url: str,
    *,
    ping_timeout: float = PING_TIMEOUT,
    master_name: str = keys.DEFAULT_MASTER_NAME,
) -> dict[str, Any]:
    """Queue depths, in-progress count, workers, oldest waiting age and DLQ size from Redis.

    Raises redis.RedisError when Redis cannot be reached.
    """
    client.ping()
    return {
        "queue_depths": keys.queue_depths(client),
        "in_progress": keys.unacked_count(client),
        "oldest_waiting_seconds": keys.oldest_waiting_age(client),
        "dlq_size": keys.dlq_size(client),
        "journal": journal.size(client),
        "workers": keys.workers_alive(_ping_app(url, master_name), timeout=ping_timeout),
    }


def gather(
    settings: Settings,
    *,
    store: Store | None,
    redis_url: str | None = None,
    ping_timeout: float = PING_TIMEOUT,
    error_limit: int = 10,
) -> ServiceStatus:
    """Read the service's state; parts that cannot be reached are marked, not raised."""
    values: dict[str, Any] = {"at": datetime.now(UTC), "redis_ok": False}
    url = redis_url or broker_url(settings)
    if url is None:
        values["redis_error"] = "no Redis configured (set --redis-url) and no embedded Redis found"
    else:
        try:
            master_name = settings.redis_master_name
            client = keys.redis_client(url, timeout=2.0, master_name=master_name)
            values.update(
                read_redis(client, url, ping_timeout=ping_timeout, master_name=master_name)
            )
            values["redis_ok"] = True
        except (redis.RedisError, OSError) as e:
            values["redis_error"] = f"{type(e).__name__}: {e}"
    if store is None:
        values.update(store_ok=False, store_error="store not opened")
    else:
        try:
            values["counts"] = store.counts()
            values["last_errors"] = store.last_errors(error_limit)
        except Exception as e:
            values.update(store_ok=False, store_error=type(e).__name__)
    return ServiceStatus(**values)


def to_json(status: ServiceStatus) -> dict[str, Any]:
    """A JSON-ready dict for `radflag status --json`."""
    counts = status.counts
    return {
        "at": status.at.isoformat(),
        "ready": status.ready,
        "redis": {"ok": status.redis_ok, "error": status.redis_error},
        "queues": status.queue_depths,
        "in_progress": status.in_progress,
        "workers": status.workers,
        "oldest_waiting_seconds": status.oldest_waiting_seconds,
        "dlq_size": status.dlq_size,
        "journal": status.journal,
        "store": {
            "ok": status.store_ok,
            "error": status.store_error,
            "messages": [
                {"message_type": t, "ack_code": a, "count": n}
                for (t, a), n in sorted(counts.messages.items())
            ],
            "annotations": counts.annotations,
            "deliveries": dict(sorted(counts.deliveries.items())),
            "flags": dict(sorted(counts.flags.items())),
            "unreviewed_flagged": counts.unreviewed_flagged,
        },
        "last_errors": [{**asdict(e), "at": e.at.isoformat()} for e in status.last_errors],
    }


def format_text(status: ServiceStatus) -> str:
    """The human-readable status report."""
    lines = [
        f"radflag status at {status.at:%Y-%m-%d %H:%M:%S} UTC: "
        f"{'READY' if status.ready else 'NOT READY'}"
    ]
    if status.redis_ok:
        depths = ", ".join(f"{q} {n}" for q, n in status.queue_depths.items())
        lines.append(f"  queues        {depths}; in progress {status.in_progress}")
        age = status.oldest_waiting_seconds
        lines.append(f"  oldest waiting {'-' if age is None else f'{age:.1f} s'}")
        lines.append(
            f"  workers       {len(status.workers)} alive"
            + (f" ({', '.join(status.workers)})" if status.workers else "")
        )
        lines.append(f"  dead letters  {status.dlq_size}")
        lines.append(f"  journal       {status.journal} waiting for their outcome")
    else:
        lines.append(f"  redis         unreachable: {status.redis_error}")
    counts = status.counts
    if status.store_ok:
        received = sum(counts.messages.values())
        by_ack = ", ".join(f"{t} {a} {n}" for (t, a), n in sorted(counts.messages.items()))
        lines.append(f"  messages      {received} stored ({by_ack or 'none'})")
        lines.append(
            f"  annotations   {counts.annotations}; flagged not reviewed "
            f"{counts.unreviewed_flagged}"
        )
        deliveries = ", ".join(f"{o} {n}" for o, n in sorted(counts.deliveries.items()))
        lines.append(f"  deliveries    {deliveries or 'none'}")
        flags = ", ".join(f"{c} {n}" for c, n in sorted(counts.flags.items()))
        lines.append(f"  flags         {flags or 'none'}")
    else:
        lines.append(f"  store         unavailable: {status.store_error}")
    if status.last_errors:
        lines.append("  last errors:")
        lines += [
            f"    {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<8} {e.control_id}: {e.text[:120]}"
            for e in status.last_errors
        ]
    return "\n".join(lines)
