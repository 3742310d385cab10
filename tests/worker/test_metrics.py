"""/metrics content: store counts, live Redis state and task histograms kept in Redis."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, free_port, mllp_exchange, run_listener, start_redis
from tests.worker.stored import record_inbound
from worker import celery_app, counters, keys, metrics
from worker.listener import MllpListener
from worker.settings import Settings
from worker.store import Store, open_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server: RedisServer = start_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    yield store
    store.close()


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_observe_task_histogram(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Task durations land in cumulative buckets with count, sum and final state."""
    client = keys.redis_client(redis_url)
    client.flushall()
    for seconds in (0.02, 0.3, 0.3, 7.0):
        metrics.observe_task("radflag.annotate", seconds, client=client)
    metrics.observe_task("radflag.deliver", 0.04, state="RETRY", client=client)
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=redis_url), store))
    task = (("task", "radflag.annotate"),)

    def bucket(le: str) -> float:
        return got[("radflag_task_duration_seconds_bucket", (("le", le), *task))]

    assert bucket("0.025") == 1 and bucket("0.5") == 3 and bucket("5.0") == 3
    assert bucket("10.0") == 4 and bucket("+Inf") == 4
    assert got[("radflag_task_duration_seconds_count", task)] == 4
    assert math.isclose(got[("radflag_task_duration_seconds_sum", task)], 7.62)
    assert got[("radflag_tasks_total", (("state", "RETRY"), ("task", "radflag.deliver")))] == 1


def test_metrics_from_counters_and_redis(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Counters kept in Redis, queue depth and DLQ size are exposed."""
    client = keys.redis_client(redis_url)
    client.flushall()
    client.lpush(keys.QUEUE_ANNOTATE, b"{}", b"{}")
    client.hset(keys.DLQ_KEY, "e1", "{}")
    received = "radflag_messages_received_total"
    for ack in ("AA", "AA", "AR"):
        counters.count(client, received, message_type="ORU^R01", ack_code=ack)
    counters.count(client, "radflag_deliveries_total", outcome="delivered")
    counters.count(client, "radflag_flags_total", code="BME")
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=redis_url), store))
    assert got[(received, (("ack_code", "AA"), ("message_type", "ORU^R01")))] == 2
    assert got[(received, (("ack_code", "AR"), ("message_type", "ORU^R01")))] == 1
    assert got[("radflag_deliveries_total", (("outcome", "delivered"),))] == 1
    assert got[("radflag_flags_total", (("code", "BME"),))] == 1
    assert got[("radflag_queue_depth", (("queue", "annotate"),))] == 2
    assert got[("radflag_dead_letters", ())] == 1
    assert got[("radflag_redis_up", ())] == 1 and got[("radflag_workers_alive", ())] == 0


def test_purge_never_lowers_counters(redis_url: str, store: Store, tmp_path: Path) -> None:
    """`radflag purge` empties the store; the counters stay where they were."""
    client = keys.redis_client(redis_url)
    client.flushall()
    now = datetime.now(UTC)
    for n in range(5):
        record_inbound(store, f"p{n}", at=now - timedelta(days=40))
        counters.count(client, "radflag_annotations_total")
    settings = Settings(data_dir=tmp_path, redis_url=redis_url)
    before = samples(metrics.render(settings, store))
    assert store.purge(now - timedelta(days=30)) == 5
    after = samples(metrics.render(settings, store))
    assert (
        before[("radflag_annotations_total", ())] == 5 == after[("radflag_annotations_total", ())]
    )
    stored = ("radflag_stored_messages", (("ack_code", "AA"), ("message_type", "ORU^R01")))
    assert before[stored] == 5 and stored not in after  # the gauge of what is stored may fall


def test_labelled_series_exist_at_zero(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Before any event: every known labelled series at 0, build info, process metrics."""
    keys.redis_client(redis_url).flushall()
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=redis_url), store))
    for series in (
        ("radflag_flags_total", (("code", "OSTEONECROSIS_CONCERN"),)),
        ("radflag_deliveries_total", (("outcome", "failed"),)),
        ("radflag_dead_lettered_total", (("reason", "rejected"), ("stage", "deliver"))),
        ("radflag_messages_received_total", (("ack_code", "CR"), ("message_type", "MDM^T02"))),
        ("radflag_mllp_frames_total", (("outcome", "oversized"),)),
        ("radflag_mllp_connections_closed_total", (("reason", "not_mllp"),)),
        ("radflag_end_to_end_seconds_count", ()),
        ("radflag_task_duration_seconds_count", (("task", "radflag.deliver"),)),
        ("radflag_listeners_up", ()),
        ("radflag_mllp_connections_open", ()),
    ):
        assert got[series] == 0, series
    info = [k for k in got if k[0] == "radflag_build_info"]
    assert len(info) == 1 and got[info[0]] == 1 and dict(info[0][1])["version"]
    assert got[("process_resident_memory_bytes", ())] > 0
    assert ("process_cpu_seconds_total", ()) in got


def test_end_to_end_histogram(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Receipt-to-delivery times land in cumulative buckets."""
    client = keys.redis_client(redis_url)
    client.flushall()
    for seconds in (0.02, 0.4, 120.0):
        metrics.observe_end_to_end(client, seconds)
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=redis_url), store))
    assert got[("radflag_end_to_end_seconds_bucket", (("le", "0.025"),))] == 1
    assert got[("radflag_end_to_end_seconds_bucket", (("le", "60.0"),))] == 2
    assert got[("radflag_end_to_end_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("radflag_end_to_end_seconds_count", ())] == 3


def test_listener_counts_frames_and_connections(
    redis_url: str, store: Store, tmp_path: Path
) -> None:
    """A real listener counts connections and frames; its flush says it is up."""
    client = keys.redis_client(redis_url)
    client.flushall()
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, max_frame_bytes=64 * 1024)
    celery_app.configure(settings, redis_url=redis_url)
    messages = [wrap_oru("Bone marrow edema.", control_id=c) for c in ("C1", "C1", "")]

    async def scenario(listener: MllpListener) -> None:
        await asyncio.to_thread(mllp_exchange, listener.port, messages)
        aio = keys.async_redis_client(redis_url)
        await listener.counts.flush(aio)
        await aio.aclose()

    run_listener(settings, redis_url, scenario)
    got = samples(metrics.render(settings, store))
    frames = "radflag_mllp_frames_total"
    assert got[(frames, (("outcome", "accepted"),))] == 1
    assert got[(frames, (("outcome", "duplicate"),))] == 1
    assert got[(frames, (("outcome", "rejected"),))] == 1
    assert got[("radflag_mllp_connections_total", ())] == 1
    assert got[("radflag_mllp_received_bytes_total", ())] >= sum(map(len, messages))
    received = "radflag_messages_received_total"
    assert got[(received, (("ack_code", "AA"), ("message_type", "ORU^R01")))] == 2
    assert got[(received, (("ack_code", "AR"), ("message_type", "ORU^R01")))] == 1
    assert got[("radflag_listeners_up", ())] == 1


def test_metrics_without_redis(store: Store, tmp_path: Path) -> None:
    """With Redis down the scrape still answers: redis_up 0, store_up 1, no counters."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=url), store))
    assert got[("radflag_redis_up", ())] == 0 and got[("radflag_store_up", ())] == 1
    assert ("radflag_queue_depth", (("queue", "annotate"),)) not in got
    assert ("radflag_annotations_total", ()) not in got  # unknown, not 0


def test_observe_task_never_raises() -> None:
    """A metrics write to an unreachable Redis is dropped, not raised into the task."""
    client = keys.redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    metrics.observe_task("radflag.annotate", 0.1, client=client)


def test_install_task_timing_records_celery_tasks(redis_url: str) -> None:
    """Celery's prerun/postrun signals time a task into the Redis histogram."""
    from celery import Celery, signals

    client = keys.redis_client(redis_url)
    client.flushall()
    app = Celery("timing-test", broker=redis_url, set_as_current=False)

    @app.task(name="radflag.test_task")
    def test_task() -> None:
        """A task that does nothing."""

    uninstall = metrics.install_task_timing(app)
    try:
        signals.worker_init.send(sender=None)
        signals.task_prerun.send(sender=test_task, task_id="t1", task=test_task)
        signals.task_postrun.send(sender=test_task, task_id="t1", task=test_task, state="SUCCESS")
    finally:
        uninstall()
        metrics._client = None
    histograms = metrics.read_task_histograms(client)
    assert histograms["radflag.test_task"]["count"] == 1
    assert histograms["radflag.test_task"]["state:SUCCESS"] == 1
