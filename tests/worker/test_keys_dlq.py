"""Redis probes (`worker.keys`) and the dead-letter store (`worker.dlq`) on a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from tests.servers import RedisServer
from worker import celery_app, dlq, keys
from worker.settings import Settings

pytestmark = pytest.mark.integration


def _entry(**overrides: object) -> dlq.DeadLetter:
    values: dict[str, object] = {
        "stage": dlq.STAGE_DELIVER, "reason": "rejected", "detail": "AR for R1",
        "dedupe_key": "RIS|GENHOSP|C1", "control_id": "C1", "message_b64": "TVNIfA==",
        "result_control_id": "R1",
    }  # fmt: skip
    values.update(overrides)
    return dlq.DeadLetter(**values)  # type: ignore[arg-type]


def test_dlq_roundtrip(redis_client: redis.Redis) -> None:
    """Added entries are listed oldest first, shown by id, removed one by one or all."""
    old = _entry(dead_at="2026-01-01T00:00:00+00:00")
    new = _entry(control_id="C2", dead_at="2026-02-01T00:00:00+00:00")
    dlq.add(redis_client, new)
    dlq.add(redis_client, old)
    assert [e.id for e in dlq.entries(redis_client)] == [old.id, new.id]
    assert dlq.get(redis_client, new.id) == new
    assert "message_b64" not in new.summary()
    assert keys.dlq_size(redis_client) == 2
    assert dlq.remove(redis_client, [old.id]) == 1
    assert dlq.remove(redis_client) == 1
    assert dlq.get(redis_client, new.id) is None


def test_replay_publishes_before_removing(redis_client: redis.Redis) -> None:
    """Replay hands the task to `publish`, then removes the entry; a failed publish keeps it."""
    entry = _entry()
    dlq.add(redis_client, entry)
    published: list[tuple[str, dict[str, object]]] = []

    def failing(name: str, kwargs: dict[str, object]) -> None:
        raise celery_app.BrokerUnavailable("down")

    with pytest.raises(celery_app.BrokerUnavailable):
        dlq.replay(redis_client, entry, failing)
    assert keys.dlq_size(redis_client) == 1
    dlq.replay(redis_client, entry, lambda name, kwargs: published.append((name, kwargs)))
    assert keys.dlq_size(redis_client) == 0
    name, kwargs = published[0]
    assert name == keys.TASK_DELIVER
    assert kwargs["result_control_id"] == "R1" and kwargs["result_b64"] == entry.message_b64


def test_probes_on_published_tasks(
    publishing: Settings, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    """Queue depth and the age of the oldest waiting message follow what was published."""
    assert keys.queue_depths(redis_client) == {
        "annotate": 0,
        "deliver": 0,
        "store": 0,
        "backfill": 0,
    }
    assert keys.oldest_waiting_age(redis_client) is None
    received = datetime.now(UTC) - timedelta(seconds=30)
    for i in range(3):
        celery_app.publish(keys.TASK_ANNOTATE, {
            "raw_b64": "", "control_id": f"C{i}", "dedupe_key": f"k{i}",
            "received_at": (received + timedelta(seconds=i)).isoformat(), "ack_code": "AA",
        })  # fmt: skip
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 3
    age = keys.oldest_waiting_age(redis_client, keys.QUEUE_ANNOTATE)
    assert age is not None and 29 <= age < 60
    assert keys.unacked_count(redis_client) == 0


def test_resolve_redis_url(tmp_path: Path) -> None:
    """An explicit URL wins; else the embedded Redis URL file of `radflag run`; else None."""
    settings = Settings(data_dir=tmp_path)
    assert keys.resolve_redis_url(settings) is None
    keys.embedded_url_file(tmp_path).parent.mkdir(parents=True)
    keys.embedded_url_file(tmp_path).write_text("redis://127.0.0.1:7777/0\n")
    assert keys.resolve_redis_url(settings) == "redis://127.0.0.1:7777/0"
    explicit = Settings(data_dir=tmp_path, redis_url="redis://elsewhere:6379/0")
    assert keys.resolve_redis_url(explicit) == "redis://elsewhere:6379/0"
