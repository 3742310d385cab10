"""Delivery through a real Celery worker process: retries, dead letters, replay, a killed worker.

Tasks are published straight to the `deliver` queue (no NLP needed), to a real
redis-server, consumed by a real `radflag worker` subprocess, delivered to a
test MLLP destination over loopback.
"""

from __future__ import annotations

import base64
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    RedisServer,
    service_env,
    start_redis,
    start_worker,
    wait_until,
)
from worker import celery_app, dlq, keys
from worker.cli import main
from worker.settings import Settings

pytestmark = pytest.mark.integration


@dataclass
class DeliveryService:
    redis_server: RedisServer
    client: redis.Redis
    destination: MllpDestination
    worker: RadflagProcess
    data_dir: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeliveryService]:
    base = tmp_path_factory.mktemp("delivery")
    server = start_redis(base / "redis")
    destination = MllpDestination().start()
    env = service_env(base / "data", server.url, destination=destination.address)
    worker = start_worker(env, base, queues="deliver", concurrency=2)
    client = redis.Redis.from_url(server.url, socket_timeout=5)
    try:
        yield DeliveryService(server, client, destination, worker, base / "data")
    finally:
        worker.stop()
        destination.stop()
        client.close()
        server.stop()


@pytest.fixture
def fresh(service: DeliveryService) -> DeliveryService:
    """The shared service with an empty DLQ, a destination answering AA, nothing received."""
    service.client.delete(keys.DLQ_KEY)
    service.destination.code = "AA"
    service.destination.received.clear()
    settings = Settings(data_dir=service.data_dir)
    celery_app.configure(settings, redis_url=service.redis_server.url)
    return service


def _publish_result(control_id: str) -> None:
    result = wrap_oru("result", control_id=control_id)
    celery_app.publish(
        keys.TASK_DELIVER,
        {
            "result_b64": base64.b64encode(result).decode("ascii"),
            "result_control_id": control_id,
            "dedupe_key": f"RIS|GENHOSP|IN-{control_id}",
            "control_id": f"IN-{control_id}",
            "first_attempt_at": datetime.now(UTC).isoformat(),
        },
    )


def _settled(service: DeliveryService) -> bool:
    return (
        keys.queue_depth(service.client, keys.QUEUE_DELIVER) == 0
        and keys.unacked_count(service.client) == 0
    )


def test_destination_down_then_up(fresh: DeliveryService) -> None:
    """Results published while the destination is down all arrive once it is back."""
    fresh.destination.stop()
    ids = [f"DOWN{i}" for i in range(5)]
    for control_id in ids:
        _publish_result(control_id)
    time.sleep(1.5)  # several failed attempts each
    assert fresh.destination.received == []
    fresh.destination.start()
    fresh.destination.wait_for(5, timeout=30)
    wait_until(lambda: set(ids) <= set(fresh.destination.control_ids()), timeout=30, what="all ids")
    assert keys.dlq_size(fresh.client) == 0
    wait_until(lambda: _settled(fresh), timeout=10, what="queue drained")


def test_application_error_retried_until_accepted(fresh: DeliveryService) -> None:
    """AE is retried; once the destination answers AA the result is done."""
    fresh.destination.code = "AE"
    _publish_result("AE1")
    fresh.destination.wait_for(2, timeout=20)
    fresh.destination.code = "AA"
    wait_until(lambda: _settled(fresh), timeout=20, what="delivery settled")
    assert keys.dlq_size(fresh.client) == 0


def test_rejected_is_dead_lettered_then_replayed(fresh: DeliveryService) -> None:
    """AR: into the DLQ (listed by the CLI); `radflag dlq replay --all` delivers it."""
    fresh.destination.code = "AR"
    _publish_result("REJ1")
    wait_until(lambda: keys.dlq_size(fresh.client) == 1, timeout=20, what="dead letter")
    assert len(fresh.destination.received) == 1  # AR is not retried
    runner = CliRunner()
    env = {"RADFLAG_REDIS_URL": fresh.redis_server.url}
    listed = runner.invoke(main, ["dlq", "list"], env=env)
    assert listed.exit_code == 0 and "REJ1" in listed.output and "rejected" in listed.output
    entry = dlq.entries(fresh.client)[0]
    shown = runner.invoke(main, ["dlq", "show", entry.id], env=env)
    assert shown.exit_code == 0 and "message_b64" not in shown.output
    fresh.destination.code = "AA"
    replayed = runner.invoke(main, ["dlq", "replay", "--all"], env=env)
    assert replayed.exit_code == 0, replayed.output
    fresh.destination.wait_for(2, timeout=20)
    assert fresh.destination.control_ids() == ["REJ1", "REJ1"]
    assert keys.dlq_size(fresh.client) == 0


def test_exhausted_retries_dead_lettered(fresh: DeliveryService) -> None:
    """A result older than delivery_max_age after a failed attempt goes to the DLQ."""
    fresh.destination.code = "AE"
    result = wrap_oru("result", control_id="OLD1")
    celery_app.publish(
        keys.TASK_DELIVER,
        {
            "result_b64": base64.b64encode(result).decode("ascii"),
            "result_control_id": "OLD1",
            "dedupe_key": "RIS|GENHOSP|IN-OLD1",
            "control_id": "IN-OLD1",
            "first_attempt_at": "2000-01-01T00:00:00+00:00",
        },
    )
    wait_until(lambda: keys.dlq_size(fresh.client) == 1, timeout=20, what="dead letter")
    assert dlq.entries(fresh.client)[0].reason == "exhausted"
    runner = CliRunner()
    env = {"RADFLAG_REDIS_URL": fresh.redis_server.url}
    purged = runner.invoke(main, ["dlq", "purge", "--all", "--yes"], env=env)
    assert purged.exit_code == 0 and keys.dlq_size(fresh.client) == 0


def test_worker_killed_mid_delivery(fresh: DeliveryService) -> None:
    """SIGKILL of the pool process waiting on the destination: the result still arrives."""
    fresh.destination.code = "hold"
    _publish_result("KILL1")
    fresh.destination.wait_for(1, timeout=20)  # a pool process is now inside the task
    children = fresh.worker.children()
    assert children, "the worker has no pool processes"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    fresh.destination.code = "AA"
    fresh.destination.wait_for(2, timeout=30)
    assert fresh.destination.control_ids()[-1] == "KILL1"
    wait_until(lambda: _settled(fresh), timeout=20, what="delivery settled")
    assert keys.dlq_size(fresh.client) == 0
