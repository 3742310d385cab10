"""Queue names, the Redis keys radflag uses, and small read-only probes of them.

Strategy: every Redis key and queue name the service touches is named here, so
the status command, the metrics and the tests read the same keys the listener
and the workers write. Celery's Redis transport (kombu) keeps each queue as a
Redis list (LPUSH in, BRPOP out: the oldest message is at the right end) and
messages handed to a worker but not yet acknowledged in the hash `unacked`.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as async_sentinel
import redis.sentinel as sync_sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from resilience.redis_url import is_sentinel_url, parse_sentinel_url
from worker.settings import Settings

QUEUE_ANNOTATE = "annotate"
QUEUE_DELIVER = "deliver"
QUEUE_STORE = "store"
QUEUE_BACKFILL = "backfill"  # archive runs (worker/backfill_tasks.py); consumed after the others
QUEUES: tuple[str, ...] = (QUEUE_ANNOTATE, QUEUE_DELIVER, QUEUE_STORE, QUEUE_BACKFILL)

TASK_ANNOTATE = "radflag.annotate"
# Many accepted messages, their arguments in the journal (worker/listener.py batches).
TASK_ANNOTATE_BATCH = "radflag.annotate_batch"
TASK_DELIVER = "radflag.deliver"
TASK_RECORD_REJECTED = "radflag.record_rejected"
TASK_DELIVER_FHIR = "radflag.deliver_fhir"
TASK_FOLLOWUP_EVENT = "radflag.followup_event"  # an order or appointment (worker/followup_tasks.py)
TASK_FOLLOWUP_CHECK = "radflag.followup_check_due"  # sent by the beat
TASK_BACKFILL = "radflag.backfill_batch"  # a batch of archived reports (radflag backfill)
FOLLOWUP_LAST_CHECK_KEY = "radflag:followup:last_check"  # clock time of the last due check

DEDUPE_PREFIX = "radflag:dedupe:"
DLQ_KEY = "radflag:dlq"  # hash: entry id -> JSON (see worker/dlq.py)
UNACKED_KEY = "unacked"  # kombu's default `unacked_key`
UNACKED_INDEX_KEY = "unacked_index"  # kombu's default `unacked_index_key`
JOURNAL_KEY = "radflag:journal"  # hash: entry id -> JSON (see worker/journal.py)
JOURNAL_SINCE_KEY = "radflag:journal:since"  # sorted set: entry id -> last activity (epoch s)
RECONCILE_LOCK_KEY = "radflag:journal:reconciling"  # one reconciler pass at a time
# Annotate batches (worker/intake_batch.lua): the batch whose task still waits, and each
# batch's journal entry ids.
INTAKE_OPEN_KEY = "radflag:intake:open"  # hash: id, n
BATCH_PREFIX = "radflag:batch:"  # + batch id: list of journal entry ids
BACKFILL_PREFIX = "radflag:backfill:"  # + run id + ":reports": list of batch reports (JSON)


def dedupe_redis_key(dedupe_key: str) -> str:
    """The Redis key marking a message (MSH-3|MSH-4|MSH-10) as already queued."""
    return DEDUPE_PREFIX + dedupe_key


def embedded_url_file(data_dir: Path) -> Path:
    """Where `radflag run` writes the URL of its embedded Redis (its port is picked at start)."""
    return data_dir / "redis" / "redis.url"


def resolve_redis_url(settings: Settings) -> str | None:
    """`settings.redis_url`, else the URL of the embedded Redis of a running `radflag run`."""
    if settings.redis_url:
        return settings.redis_url
    path = embedded_url_file(settings.data_dir)
    return path.read_text().strip() if path.is_file() else None


DEFAULT_MASTER_NAME = "mymaster"  # Settings.redis_master_name's default


def redis_client(
    url: str, *, timeout: float = 5.0, master_name: str = DEFAULT_MASTER_NAME
) -> redis.Redis:
    """A Redis client with bounded timeouts and one reconnect on a broken connection.

    The one factory for every synchronous client in worker/: `url` is a
    redis://, rediss://, unix:// or Sentinel URL (resilience.redis_url); with
    Sentinels the client asks them for `master_name`'s address on every
    (re)connect, and a primary demoted to a replica counts as a broken
    connection, so the reconnect finds the new primary after a failover.
    The reconnect matters after a Redis restart too: pooled connections are
    dead and the first command on each would fail although Redis is back.
    """
    client: redis.Redis = _client(url, timeout, master_name, Retry, sync_sentinel, redis.Redis)
    return client


def async_redis_client(
    url: str, *, timeout: float = 5.0, master_name: str = DEFAULT_MASTER_NAME
) -> aioredis.Redis:
    """The asyncio twin of `redis_client` (the listener's)."""
    client: aioredis.Redis = _client(
        url, timeout, master_name, AsyncRetry, async_sentinel, aioredis.Redis
    )
    return client


def _client(
    url: str, timeout: float, master_name: str, retry: Any, sentinel: Any, redis_class: Any
) -> Any:
    """One client, sync or asyncio by the classes given; see `redis_client`."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": retry(NoBackoff(), 1),
        "retry_on_error": [redis.ConnectionError],
    }
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        manager = sentinel.Sentinel(
            list(target.sentinels),
            sentinel_kwargs=_sentinel_kwargs(timeout),
            db=target.db,
            password=target.password,
            username=target.username,
        )
        return manager.master_for(master_name, redis_class=redis_class, **options)
    return redis_class.from_url(url, **options)


def broker_transport_options(url: str, master_name: str) -> dict[str, Any]:
    """What kombu needs beyond timeouts for `url`: the master name and bounded Sentinel calls.

    Without `sentinel_kwargs`, kombu's Sentinel clients have no timeouts at
    all (celery issue 7997), so a Sentinel that stopped answering would hang
    a worker's reconnect.
    """
    if not is_sentinel_url(url):
        return {}
    return {"master_name": master_name, "sentinel_kwargs": _sentinel_kwargs(2.0)}


def broker_url_for(url: str) -> str:
    """The URL to give kombu: a Sentinel URL normalized so that every element has the db."""
    return parse_sentinel_url(url).kombu_url() if is_sentinel_url(url) else url


def _sentinel_kwargs(timeout: float) -> dict[str, Any]:
    # A Sentinel answers from memory: a second is long; down Sentinels are skipped.
    bound = min(timeout, 1.0)
    return {"socket_timeout": bound, "socket_connect_timeout": bound}


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Messages waiting in a queue (not yet handed to a worker)."""
    return int(client.llen(queue))  # type: ignore[arg-type]


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Waiting messages per radflag queue."""
    return {queue: queue_depth(client, queue) for queue in QUEUES}


def unacked_count(client: redis.Redis) -> int:
    """Messages handed to workers and not yet acknowledged (running, or waiting for a retry)."""
    return int(client.hlen(UNACKED_KEY))  # type: ignore[arg-type]


def dlq_size(client: redis.Redis) -> int:
    """Entries in the dead-letter store."""
    return int(client.hlen(DLQ_KEY))  # type: ignore[arg-type]


def oldest_waiting_age(
    client: redis.Redis, queue: str = QUEUE_ANNOTATE, *, now: datetime | None = None
) -> float | None:
    """Seconds since the oldest waiting message of `queue` was received; None when empty."""
    raw = client.lindex(queue, -1)
    if raw is None:
        return None
    received_at = _received_at(raw)  # type: ignore[arg-type]
    if received_at is None:
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (now - received_at).total_seconds())


def workers_alive(app: Any, *, timeout: float = 1.0) -> list[str]:
    """Names of the Celery workers that answered a ping within `timeout` seconds."""
    replies = app.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


def task_kwargs(raw: bytes | str) -> dict[str, Any] | None:
    """The keyword arguments of a queued task (a kombu envelope); None when unreadable.

    The body is base64 JSON (`[args, kwargs, embed]`), or that JSON as it is (the
    listener's annotate batches, whose envelope has no `body_encoding`).
    """
    try:
        body = json.loads(raw)["body"]
        if not body.startswith("["):  # base64 never starts with "["; JSON arrays do
            body = base64.b64decode(body)
        kwargs = json.loads(body)[1]
        return kwargs if isinstance(kwargs, dict) else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def queued_messages(client: redis.Redis, queue: str) -> int:
    """Messages waiting in `queue`: its tasks, each annotate batch counted by its entries."""
    tasks = client.lrange(queue, 0, -1)
    batches = [(task_kwargs(raw) or {}).get("batch") for raw in tasks]  # type: ignore[union-attr]
    pipe = client.pipeline(transaction=False)
    for batch in batches:
        if isinstance(batch, str):
            pipe.llen(BATCH_PREFIX + batch)
    sizes = pipe.execute() if len(pipe) else []  # all batches' sizes in one round trip
    return len(batches) - len(sizes) + sum(int(n) for n in sizes)


def _received_at(raw: bytes) -> datetime | None:
    stamp = (task_kwargs(raw) or {}).get("received_at")
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except (ValueError, TypeError):
        return None
