"""Prometheus metrics for /metrics: counters and histograms kept in Redis, live state.

Strategy: the listener, the Celery workers and the web page are separate
processes (in docker-compose, separate containers), so no process-local
registry can see everything, and prometheus-client's multiprocess mode would
need a directory shared by all of them and an environment variable set before
import. Instead each scrape *reads* what the processes keep in Redis: monotonic
counters (`worker.counters`: messages received, annotations, flags,
deliveries, dead letters, MLLP connections and frames; never computed from the
store, so `radflag purge` cannot lower them), the task-duration and end-to-end
histograms (`observe_task`, `observe_end_to_end`), the listeners' heartbeats,
and the live state (`worker.status.gather`: queue depths, workers, the
dead-letter size). Every labelled series a dashboard or alert needs is there
from the start, at 0. The serving process adds its own `process_*` metrics and
`radflag_build_info`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hl7.result import FLAG_TEXT
from worker import counters, keys
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

_ACKS = ("AA", "AE", "AR", "CA", "CE", "CR")
# The counters /metrics shows: name, help, label names, the label values that exist
# from the start (at 0, so that rate() and alerts see a series before its first event).
COUNTERS: tuple[tuple[str, str, tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = (
    ("radflag_messages_received_total", "Inbound messages answered, by type and ACK code",
     ("message_type", "ack_code"),
     tuple((t, a) for t in ("ORU^R01", "MDM^T02", "MDM^T04") for a in _ACKS)),
    ("radflag_annotations_total", "Messages annotated", (), ((),)),
    ("radflag_flags_total", "Flags raised, by code", ("code",),
     tuple((code,) for code in FLAG_TEXT)),
    ("radflag_deliveries_total", "Result delivery attempts, by outcome", ("outcome",),
     (("delivered",), ("failed",), ("rejected",))),
    ("radflag_dead_lettered_total", "Messages put in the dead-letter store",
     ("stage", "reason"),
     (("deliver", "rejected"), ("deliver", "exhausted"), ("annotate", "unprocessable"),
      ("annotate", "failed"))),
    ("radflag_mllp_connections_total", "MLLP connections accepted", (), ((),)),
    ("radflag_mllp_connections_closed_total", "MLLP connections the listener closed, by reason",
     ("reason",), (("idle",), ("not_mllp",), ("oversized",), ("tls_failed",), ("connection_limit",),
      ("buffer_budget",))),
    ("radflag_mllp_frames_total", "MLLP frames answered, by outcome", ("outcome",),
     (("accepted",), ("duplicate",), ("rejected",), ("error",), ("oversized",))),
    ("radflag_mllp_received_bytes_total", "Bytes read from MLLP connections", (), ((),)),
)  # fmt: skip

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_started: dict[str, float] = {}


def bind_redis(url: str, master_name: str = keys.DEFAULT_MASTER_NAME) -> None:
    """Where this process's `observe_task` writes; call once per process (e.g. worker start)."""
    global _client
    with _client_lock:
        _client = keys.redis_client(url, timeout=1.0, master_name=master_name)


def _bucket_field(seconds: float, buckets: tuple[float, ...] = TASK_BUCKETS) -> str:
    for bound in buckets:
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


LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    math.inf,
)  # fmt: skip
END_TO_END_KEY = "radflag:metrics:end_to_end"


def end_to_end_commands(pipe: Any, seconds: float) -> None:
    """Queue on `pipe` the commands that record one end-to-end time."""
    pipe.hincrby(END_TO_END_KEY, _bucket_field(seconds, LATENCY_BUCKETS), 1)
    pipe.hincrby(END_TO_END_KEY, "count", 1)
    pipe.hincrbyfloat(END_TO_END_KEY, "sum", seconds)


def observe_end_to_end(client: redis.Redis | None, seconds: float) -> None:
    """Record one message's time from receipt to its result's delivery; never raises."""
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        end_to_end_commands(pipe, seconds)
        pipe.execute()
    except (redis.RedisError, OSError) as e:
        log.warning("latency not recorded: %s", type(e).__name__)


def install_task_timing(app: Any) -> Callable[[], None]:
    """Time every task of `app` with Celery's signals and record it with `observe_task`.

    Binds this process's metrics client to the app's broker when a worker starts.
    Returns a function that disconnects the handlers again.
    """
    from celery import signals

    def _on_worker_init(**_: Any) -> None:
        url = app.conf.broker_url
        if url and _client is None:
            options = app.conf.broker_transport_options or {}
            bind_redis(url, options.get("master_name", keys.DEFAULT_MASTER_NAME))

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
        yield _build_info()
        url = self.redis_url or broker_url(self.settings)
        status = gather(self.settings, store=self.store, redis_url=url, ping_timeout=0.5)
        yield from _store_metrics(status)
        yield from followup_metrics(self.store if status.store_ok else None)
        yield from _live_metrics(status)
        if status.redis_ok and url:
            try:
                client = keys.redis_client(
                    url, timeout=2.0, master_name=self.settings.redis_master_name
                )
                yield from _counter_metrics(counters.read(client))
                yield from _listener_metrics(counters.listeners(client))
                yield _end_to_end_metric(client.hgetall(END_TO_END_KEY))  # type: ignore[arg-type]
                yield from _task_metrics(read_task_histograms(client))
            except (redis.RedisError, OSError) as e:
                log.warning("metrics from Redis unavailable: %s", type(e).__name__)


def _store_metrics(status: ServiceStatus) -> Iterator[Metric]:
    up = GaugeMetricFamily("radflag_store_up", "1 if the message store answered")
    up.add_metric([], 1.0 if status.store_ok else 0.0)
    yield up
    counts = status.counts
    stored = GaugeMetricFamily(
        "radflag_stored_messages",
        "Inbound messages the store holds now, by type and ACK code (purge lowers it)",
        labels=["message_type", "ack_code"],
    )
    for (message_type, ack_code), n in sorted(counts.messages.items()):
        stored.add_metric([message_type, ack_code], n)
    yield stored
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
    depth = GaugeMetricFamily(
        "radflag_queue_depth",
        "Tasks waiting per queue (an annotate batch task carries several messages)",
        labels=["queue"],
    )
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


def _build_info() -> Metric:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        radflag_version = version("radflag")
    except PackageNotFoundError:
        radflag_version = "unknown"
    info = GaugeMetricFamily(
        "radflag_build_info",
        "radflag's version and Python's, always 1",
        labels=["version", "python"],
    )
    info.add_metric([radflag_version, platform.python_version()], 1.0)
    return info


def _counter_metrics(values: dict[str, dict[counters.Labels, float]]) -> Iterator[Metric]:
    for name, doc, label_names, known in COUNTERS:
        family = CounterMetricFamily(name.removesuffix("_total"), doc, labels=list(label_names))
        filled = counters.zero_fill(values.get(name, {}), label_names, known)
        for labels, value in sorted(filled.items()):
            by_name = dict(labels)
            family.add_metric([by_name.get(n, "") for n in label_names], value)
        yield family


def _listener_metrics(heartbeats: list[dict[str, Any]]) -> Iterator[Metric]:
    up = GaugeMetricFamily("radflag_listeners_up", "MLLP listeners that reported in the last 15 s")
    up.add_metric([], float(len(heartbeats)))
    yield up
    open_connections = GaugeMetricFamily(
        "radflag_mllp_connections_open", "MLLP connections the listeners hold"
    )
    open_connections.add_metric(
        [], float(sum(int(h.get("open_connections", 0)) for h in heartbeats))
    )
    yield open_connections


def _end_to_end_metric(raw: dict[Any, Any]) -> Metric:
    fields = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in (raw or {}).items()}
    family = HistogramMetricFamily(
        "radflag_end_to_end_seconds",
        "From a message's receipt to its result's delivery (AA/CA from the destination)",
    )
    family.add_metric([], _cumulative(fields, LATENCY_BUCKETS), sum_value=fields.get("sum", 0.0))
    return family


def _cumulative(fields: dict[str, float], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    cumulative, buckets = 0.0, []
    for bound in bounds:
        label = "+Inf" if math.isinf(bound) else repr(bound)
        cumulative += fields.get("le:" + label, 0.0)
        buckets.append((label, cumulative))
    return buckets


def _task_metrics(histograms: dict[str, dict[str, float]]) -> Iterator[Metric]:
    durations = HistogramMetricFamily(
        "radflag_task_duration_seconds", "Celery task run time", labels=["task"]
    )
    states = CounterMetricFamily(
        "radflag_tasks", "Celery tasks finished, by state", labels=["task", "state"]
    )
    for task in (keys.TASK_ANNOTATE, keys.TASK_DELIVER, keys.TASK_RECORD_REJECTED):
        histograms.setdefault(task, {})  # every task's series from the start, at 0
    for task, fields in sorted(histograms.items()):
        buckets = _cumulative(fields, TASK_BUCKETS)
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
    # process_* and python_* of the process serving /metrics (the web page).
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return generate_latest(registry)
