"""Prometheus metrics for /metrics: counts from the store, live state from Redis, task timings.

Strategy: the listener, the Celery workers and the web page are separate
processes (in docker-compose, separate containers), so no process-local
registry can see everything, and prometheus-client's multiprocess mode would
need a directory shared by all of them and an environment variable set before
import. Instead each scrape *reads* the truth: message, delivery and flag
counts from the store (the system of record, so /metrics and `radflag status`
agree with it), queue depths, workers and the dead-letter size from Redis
(`worker.status.gather`), and task-duration histograms that the workers keep in
Redis hashes (`observe_task`: one pipelined round trip per task). Counts from
the store go down after `radflag purge`; Prometheus treats that as a counter
reset.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from worker import keys
from worker.followup_metrics import followup_metrics
from worker.settings import Settings
from worker.status import ServiceStatus, broker_url, gather
from worker.store import Store

log = logging.getLogger(__name__)

TASK_BUCKETS: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    math.inf,
)
TASKS_SET = "radflag:metrics:tasks"
TASK_HASH_PREFIX = "radflag:metrics:task:"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_started: dict[str, float] = {}


def bind_redis(url: str) -> None:
    """Where this process's `observe_task` writes; call once per process (e.g. worker start)."""
    global _client
    with _client_lock:
        _client = keys.redis_client(url, timeout=1.0)


def _bucket_field(seconds: float) -> str:
    for bound in TASK_BUCKETS:
        if seconds <= bound:
            return "le:" + ("+Inf" if math.isinf(bound) else repr(bound))
    return "le:+Inf"


def observe_task(
    name: str, seconds: float, *, state: str = "SUCCESS", client: redis.Redis | None = None
) -> None:
    """Record one task's duration and final state; never raises (metrics must not fail a task)."""
    target = client or _client
    if target is None:
        return
    key = TASK_HASH_PREFIX + name
    try:
        pipe = target.pipeline(transaction=False)
        pipe.sadd(TASKS_SET, name)
        pipe.hincrby(key, _bucket_field(seconds), 1)
        pipe.hincrby(key, "count", 1)
        pipe.hincrbyfloat(key, "sum", seconds)
        pipe.hincrby(key, "state:" + state, 1)
        pipe.execute()
    except (redis.RedisError, OSError) as e:
        log.warning("task metrics not recorded task=%s: %s", name, type(e).__name__)


def install_task_timing(app: Any) -> Callable[[], None]:
    """Time every task of `app` with Celery's signals and record it with `observe_task`.

    Binds this process's metrics client to the app's broker when a worker starts.
    Returns a function that disconnects the handlers again.
    """
    from celery import signals

    def _on_worker_init(**_: Any) -> None:
        url = app.conf.broker_url
        if url and _client is None:
            bind_redis(url)

    def _on_prerun(task_id: str = "", **_: Any) -> None:
        _started[task_id] = time.monotonic()

    def _on_postrun(
        task_id: str = "", task: Any = None, state: str | None = None, **_: Any
    ) -> None:
        started = _started.pop(task_id, None)
        if started is not None and task is not None:
            observe_task(task.name, time.monotonic() - started, state=state or "UNKNOWN")

    connections = [
        (signals.worker_process_init, _on_worker_init),
        (signals.worker_init, _on_worker_init),
        (signals.task_prerun, _on_prerun),
        (signals.task_postrun, _on_postrun),
    ]
    for signal, handler in connections:
        signal.connect(handler, weak=False)

    def uninstall() -> None:
        for signal, handler in connections:
            signal.disconnect(handler)

    return uninstall


def read_task_histograms(client: redis.Redis) -> dict[str, dict[str, float]]:
    """The raw task hashes: task name -> field -> value."""
    names = sorted(n.decode() if isinstance(n, bytes) else n for n in client.smembers(TASKS_SET))  # type: ignore[union-attr]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        fields = client.hgetall(TASK_HASH_PREFIX + name)
        out[name] = {
            (k.decode() if isinstance(k, bytes) else k): float(v)
            for k, v in fields.items()  # type: ignore[union-attr]
        }
    return out


class ServiceCollector(Collector):
    """Collects every radflag metric at scrape time (see the module docstring)."""

    def __init__(
        self, settings: Settings, store: Store | None, redis_url: str | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.redis_url = redis_url

    def collect(self) -> Iterator[Metric]:
        url = self.redis_url or broker_url(self.settings)
        status = gather(self.settings, store=self.store, redis_url=url, ping_timeout=0.5)
        yield from _store_metrics(status)
        yield from followup_metrics(self.store if status.store_ok else None)
        yield from _live_metrics(status)
        if status.redis_ok and url:
            try:
                yield from _task_metrics(read_task_histograms(keys.redis_client(url, timeout=2.0)))
            except (redis.RedisError, OSError) as e:
                log.warning("task metrics unavailable: %s", type(e).__name__)


def _store_metrics(status: ServiceStatus) -> Iterator[Metric]:
    up = GaugeMetricFamily("radflag_store_up", "1 if the message store answered")
    up.add_metric([], 1.0 if status.store_ok else 0.0)
    yield up
    counts = status.counts
    received = CounterMetricFamily(
        "radflag_messages_received",
        "Inbound messages in the store by type and ACK code",
        labels=["message_type", "ack_code"],
    )
    for (message_type, ack_code), n in sorted(counts.messages.items()):
        received.add_metric([message_type, ack_code], n)
    yield received
    deliveries = CounterMetricFamily(
        "radflag_deliveries", "Result delivery attempts by outcome", labels=["outcome"]
    )
    for outcome, n in sorted(counts.deliveries.items()):
        deliveries.add_metric([outcome], n)
    yield deliveries
    flags = CounterMetricFamily("radflag_flags", "Flags raised, by code", labels=["code"])
    for code, n in sorted(counts.flags.items()):
        flags.add_metric([code], n)
    yield flags
    annotations = CounterMetricFamily("radflag_annotations", "Messages annotated")
    annotations.add_metric([], counts.annotations)
    yield annotations
    unreviewed = GaugeMetricFamily(
        "radflag_flagged_unreviewed", "Flagged reports that no radiologist marked reviewed"
    )
    unreviewed.add_metric([], counts.unreviewed_flagged)
    yield unreviewed


def _live_metrics(status: ServiceStatus) -> Iterator[Metric]:
    up = GaugeMetricFamily("radflag_redis_up", "1 if Redis answered")
    up.add_metric([], 1.0 if status.redis_ok else 0.0)
    yield up
    if not status.redis_ok:
        return
    depth = GaugeMetricFamily("radflag_queue_depth", "Messages waiting per queue", labels=["queue"])
    for queue, n in status.queue_depths.items():
        depth.add_metric([queue], n)
    yield depth
    for name, doc, value in (
        (
            "radflag_tasks_in_progress",
            "Messages handed to a worker, not yet acknowledged",
            status.in_progress,
        ),
        ("radflag_workers_alive", "Celery workers that answered a ping", len(status.workers)),
        ("radflag_dead_letters", "Entries in the dead-letter store", status.dlq_size or 0),
        (
            "radflag_journal_entries",
            "Accepted messages whose outcome is not kept yet (the intake journal)",
            status.journal or 0,
        ),
        (
            "radflag_oldest_waiting_seconds",
            "Age of the oldest message waiting to be annotated",
            status.oldest_waiting_seconds or 0.0,
        ),
    ):
        gauge = GaugeMetricFamily(name, doc)
        gauge.add_metric([], float(value))
        yield gauge


def _task_metrics(histograms: dict[str, dict[str, float]]) -> Iterator[Metric]:
    durations = HistogramMetricFamily(
        "radflag_task_duration_seconds", "Celery task run time", labels=["task"]
    )
    states = CounterMetricFamily(
        "radflag_tasks", "Celery tasks finished, by state", labels=["task", "state"]
    )
    for task, fields in histograms.items():
        cumulative, buckets = 0.0, []
        for bound in TASK_BUCKETS:
            label = "+Inf" if math.isinf(bound) else repr(bound)
            cumulative += fields.get("le:" + label, 0.0)
            buckets.append((label, cumulative))
        durations.add_metric([task], buckets, sum_value=fields.get("sum", 0.0))
        for name, value in sorted(fields.items()):
            if name.startswith("state:"):
                states.add_metric([task, name[6:]], value)
    yield durations
    yield states


def render(settings: Settings, store: Store | None, redis_url: str | None = None) -> bytes:
    """The /metrics body in Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(settings, store, redis_url))
    if store is not None:
        from worker.quality_metrics import FeedbackCollector

        registry.register(FeedbackCollector(store))
    return generate_latest(registry)
