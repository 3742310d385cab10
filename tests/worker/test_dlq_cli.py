"""`radflag dlq replay|purge`: the summary line, against a real redis-server."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tests.servers import RedisServer
from worker import celery_app, dlq, keys
from worker.celery_app import BrokerUnavailable
from worker.cli import main
from worker.cli import service as service_cli

pytestmark = pytest.mark.integration


def _add(client: redis.Redis, control_id: str) -> dlq.DeadLetter:
    entry = dlq.DeadLetter(
        stage=dlq.STAGE_DELIVER, reason="rejected", detail=f"AR for R{control_id}",
        dedupe_key=f"RIS|GENHOSP|{control_id}", control_id=control_id,
        message_b64="TVNIfA==", result_control_id=f"R{control_id}",
    )  # fmt: skip
    dlq.add(client, entry)
    return entry


def _invoke(redis_server: RedisServer, *args: str) -> Any:
    result = CliRunner().invoke(main, ["dlq", *args], env={"RADFLAG_REDIS_URL": redis_server.url})
    assert "Traceback" not in result.output
    return result


def test_replay_all_prints_summary(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    """Three entries: each replayed (a task on the deliver queue), summary says so, DLQ empty."""
    for control_id in ("A1", "A2", "A3"):
        _add(redis_client, control_id)
    result = _invoke(redis_server, "replay", "--all")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "replayed 3, failed 0"
    assert keys.dlq_size(redis_client) == 0
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 3


def test_replay_counts_failures_and_keeps_them(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish that fails for one entry: summary 'replayed 2, failed 1', exit 1, entry kept."""
    kept = _add(redis_client, "F2")
    for control_id in ("F1", "F3"):
        _add(redis_client, control_id)
    real_publish = celery_app.publish

    def publish(task_name: str, kwargs: dict[str, Any]) -> None:
        if kwargs["control_id"] == "F2":
            raise BrokerUnavailable("cannot publish: ConnectionError")
        real_publish(task_name, kwargs)

    monkeypatch.setattr(celery_app, "publish", publish)
    result = _invoke(redis_server, "replay", "--all")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "replayed 2, failed 1"
    assert f"not replayed {kept.id} control_id=F2" in result.output
    assert [e.id for e in dlq.entries(redis_client)] == [kept.id]
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 2


def test_replay_named_entry_prints_summary(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Replaying one named entry leaves the other and still prints the summary."""
    chosen = _add(redis_client, "N1")
    other = _add(redis_client, "N2")
    result = _invoke(redis_server, "replay", chosen.id)
    assert result.exit_code == 0, result.output
    assert f"replayed {chosen.id} control_id=N1" in result.output
    assert result.output.splitlines()[-1] == "replayed 1, failed 0"
    assert [e.id for e in dlq.entries(redis_client)] == [other.id]


def test_purge_all_in_batches_prints_summary(
    redis_server: RedisServer, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five entries purged two at a time: all gone, summary 'removed 5, failed 0'."""
    monkeypatch.setattr(service_cli, "PURGE_BATCH", 2)
    for i in range(5):
        _add(redis_client, f"P{i}")
    result = _invoke(redis_server, "purge", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("removed 5, failed 0 at ")
    assert keys.dlq_size(redis_client) == 0
    again = _invoke(redis_server, "purge", "--all", "--yes")
    assert again.output.splitlines()[-1].startswith("removed 0, failed 0 at ")


def test_purge_all_asks_first(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    """`dlq purge --all` without --yes asks; answering no removes nothing, yes removes all."""
    for i in range(3):
        _add(redis_client, f"Q{i}")
    refused = CliRunner().invoke(
        main, ["dlq", "purge", "--all"], env={"RADFLAG_REDIS_URL": redis_server.url}, input="n\n"
    )
    assert refused.exit_code == 1 and "Remove 3 dead-letter entries" in refused.output
    assert keys.dlq_size(redis_client) == 3
    agreed = CliRunner().invoke(
        main, ["dlq", "purge", "--all"], env={"RADFLAG_REDIS_URL": redis_server.url}, input="y\n"
    )
    assert agreed.exit_code == 0 and keys.dlq_size(redis_client) == 0
