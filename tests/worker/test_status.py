"""`radflag status` and worker.status against a real redis-server and a real store."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from tests.servers import RedisServer, free_port, start_redis
from tests.worker.stored import record_inbound
from worker import keys
from worker.cli import main
from worker.settings import Settings
from worker.status import format_text, gather, to_json
from worker.store import Store, open_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = keys.redis_client(redis_server.url)
    client.flushall()
    return redis_server.url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    yield store
    store.close()


def kombu_envelope(received_at: datetime) -> bytes:
    """A message as Celery's Redis transport keeps it in a queue list."""
    body = [[], {"received_at": received_at.isoformat(), "control_id": "C1"}, {}]
    return json.dumps(
        {
            "body": base64.b64encode(json.dumps(body).encode()).decode(),
            "headers": {},
            "properties": {},
        }
    ).encode()


def fill_redis(url: str, now: datetime) -> None:
    client = keys.redis_client(url)
    for minutes in (5, 3, 1):  # in arrival order, as the listener publishes
        client.lpush(keys.QUEUE_ANNOTATE, kombu_envelope(now - timedelta(minutes=minutes)))
    client.lpush(keys.QUEUE_DELIVER, kombu_envelope(now))
    client.hset(keys.DLQ_KEY, mapping={"e1": "{}", "e2": "{}"})
    client.hset(keys.UNACKED_KEY, "tag", "x")


def test_gather_reads_redis_and_store(redis_url: str, store: Store, tmp_path: Path) -> None:
    """Queue depths, oldest waiting age, DLQ size and last errors come from Redis and the store."""
    now = datetime.now(UTC)
    fill_redis(redis_url, now)
    record_inbound(
        store,
        "RIS|H|9",
        at=now,
        ack="AR",
        error="200: unsupported message type ADT^A01",
        message_type="ADT^A01",
    )
    client = redis.Redis.from_url(redis_url)
    client.hset(keys.JOURNAL_KEY, "radflag.annotate|RIS|H|10", "{}")
    client.close()
    reading = gather(
        Settings(data_dir=tmp_path, redis_url=redis_url), store=store, ping_timeout=0.3
    )
    assert reading.redis_ok
    assert reading.journal == 1 and "journal       1 waiting" in format_text(reading)
    assert reading.queue_depths == {"annotate": 3, "deliver": 1, "store": 0, "backfill": 0}
    assert reading.in_progress == 1 and reading.dlq_size == 2
    assert reading.oldest_waiting_seconds is not None
    assert 4.5 * 60 < reading.oldest_waiting_seconds < 6 * 60
    assert reading.workers == [] and not reading.ready
    assert reading.counts.messages == {("ADT^A01", "AR"): 1}
    assert [e.control_id for e in reading.last_errors] == ["9"]
    text = format_text(reading)
    assert "annotate 3" in text and "dead letters  2" in text and "unsupported" in text
    assert to_json(reading)["queues"]["annotate"] == 3


def test_gather_unreachable_redis(store: Store, tmp_path: Path) -> None:
    """Redis down is reported, not raised; the store part still reads."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    reading = gather(Settings(data_dir=tmp_path, redis_url=url), store=store, ping_timeout=0.3)
    assert not reading.redis_ok and reading.redis_error and not reading.ready
    assert reading.store_ok
    assert "unreachable" in format_text(reading)


def test_status_command_json(redis_url: str, tmp_path: Path) -> None:
    """`radflag status --json` prints parsable JSON and exits 1 without live workers."""
    fill_redis(redis_url, datetime.now(UTC))
    open_store(Settings(data_dir=tmp_path))  # what a running service would have made
    result = CliRunner().invoke(
        main, ["status", "--json", "--redis-url", redis_url, "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["queues"]["annotate"] == 3 and report["dlq_size"] == 2
    assert report["ready"] is False and report["store"]["ok"] is True
