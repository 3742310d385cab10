"""/metrics content: store counts, live Redis state and task histograms kept in Redis."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import RedisServer, free_port, start_redis
from tests.worker.stored import record_inbound
from worker import keys, metrics
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


def test_metrics_agree_with_store_and_redis(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Messages by type and ACK, deliveries, flags, queue depth and DLQ size are exposed."""
    client = keys.redis_client(redis_url)
    client.flushall()
    client.lpush(keys.QUEUE_ANNOTATE, b"{}", b"{}")
    client.hset(keys.DLQ_KEY, "e1", "{}")
    now = datetime.now(UTC)
    for n, ack in enumerate(["AA", "AA", "AR"]):
        record_inbound(store, f"k{n}", at=now, ack=ack)
    store.record_annotation(
        dedupe_key="k0",
        accession="A0",
        procedure=None,
        annotation={
            "bme": "present",
            "flags": [{"code": "BME", "priority": "routine", "suggestion": "s"}],
        },
        result_control_id="R0",
        result_message=b"MSH|",
    )
    store.record_delivery(
        dedupe_key="k0", result_control_id="R0", attempt=1, outcome="delivered", detail="AA", at=now
    )
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=redis_url), store))
    received = "radflag_messages_received_total"
    assert got[(received, (("ack_code", "AA"), ("message_type", "ORU^R01")))] == 2
    assert got[(received, (("ack_code", "AR"), ("message_type", "ORU^R01")))] == 1
    assert got[("radflag_deliveries_total", (("outcome", "delivered"),))] == 1
    assert got[("radflag_flags_total", (("code", "BME"),))] == 1
    assert got[("radflag_queue_depth", (("queue", "annotate"),))] == 2
    assert got[("radflag_dead_letters", ())] == 1
    assert got[("radflag_redis_up", ())] == 1 and got[("radflag_workers_alive", ())] == 0


def test_metrics_without_redis(store: Store, tmp_path: Path) -> None:
    """With Redis down the scrape still answers: redis_up 0 and the store's counts."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    got = samples(metrics.render(Settings(data_dir=tmp_path, redis_url=url), store))
    assert got[("radflag_redis_up", ())] == 0 and got[("radflag_store_up", ())] == 1
    assert ("radflag_queue_depth", (("queue", "annotate"),)) not in got


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
