"""Fixtures for the service tests: a real redis-server, a test MLLP destination, settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.servers import MllpDestination, RedisServer, start_redis
from worker import celery_app, tasks
from worker.settings import Settings


@pytest.fixture(autouse=True)
def _inline_delivery_unpaused() -> None:
    """Each test starts with inline delivery allowed. The pause is one per process
    (`tasks.INLINE`): a test whose destination refused would otherwise send a later
    test's results to the deliver queue for 30 s (seen with test_tasks.py's refused
    destination before test_intake_batch.py's delivery test)."""
    tasks.INLINE.paused_until = float("-inf")
    tasks.INLINE.average = 0.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, AOF in tmp_path."""
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def destination() -> Iterator[MllpDestination]:
    """A result receiver answering AA."""
    receiver = MllpDestination().start()
    try:
        yield receiver
    finally:
        receiver.stop()
    assert not receiver.invalid, f"invalid results delivered: {receiver.invalid}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for in-process parts: short timeouts and windows."""
    return Settings(
        data_dir=tmp_path / "data", idle_timeout=5.0, max_frame_bytes=64 * 1024,
        delivery_timeout=2.0, delivery_backoff_base=0.2, delivery_backoff_max=1.0,
    )  # fmt: skip


@pytest.fixture
def publishing(settings: Settings, redis_server: RedisServer) -> Settings:
    """The Celery app of this process pointed at the test's Redis (to publish tasks)."""
    celery_app.configure(settings, redis_url=redis_server.url, pool_limit=32)
    return settings
