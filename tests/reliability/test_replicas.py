"""RADFLAG_REDIS_MIN_REPLICAS: the intake waits (WAIT) for replicas; too few in time: no ACK.

Real redis-server primary and replica on 127.0.0.1; the listener's Intake in process.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from hl7.header import parse_header
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, start_redis, wait_until
from worker import keys
from worker.celery_app import BrokerUnavailable
from worker.listener import Intake

pytestmark = pytest.mark.integration


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    primary = start_redis(tmp_path / "primary")
    replica = RedisServer(
        tmp_path / "replica",
        log_path=tmp_path / "replica.log",
        extra_config=(f"replicaof 127.0.0.1 {primary.port}",),
    ).start()
    try:
        client = redis.Redis(port=primary.port)
        wait_until(
            lambda: client.info("replication").get("connected_slaves") == 1,
            timeout=20,
            what="the replica to connect",
        )
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def _accept(url: str, message: bytes, *, min_replicas: int, timeout: float) -> tuple[bool, float]:
    async def main() -> tuple[bool, float]:
        client = keys.async_redis_client(url)
        intake = Intake(client, 60, min_replicas=min_replicas, replica_timeout=timeout)
        started = time.monotonic()
        try:
            queued = await intake.accept(message, parse_header(message), "AA", datetime.now(UTC))
        finally:
            await client.aclose()
        return queued, time.monotonic() - started

    return asyncio.run(main())


def test_ack_waits_for_the_replica_and_refuses_without_it(
    primary_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = primary_and_replica
    first = wrap_oru("Bone marrow edema.", control_id="REP1")
    queued, _ = _accept(primary.url, first, min_replicas=1, timeout=2.0)
    assert queued
    assert redis.Redis(port=replica.port).llen(keys.QUEUE_ANNOTATE) == 1  # the replica has it

    assert replica.process is not None
    replica.process.send_signal(signal.SIGSTOP)  # a replica that stopped answering
    try:
        second = wrap_oru("Bone marrow edema.", control_id="REP2")
        with pytest.raises(BrokerUnavailable, match="ReplicasNotConfirmed"):
            _accept(primary.url, second, min_replicas=1, timeout=0.3)
        # A resend while the replica is still away: a duplicate now, still not confirmed.
        with pytest.raises(BrokerUnavailable, match="ReplicasNotConfirmed"):
            _accept(primary.url, second, min_replicas=1, timeout=0.3)
        # Two replicas asked for, one exists: refused in about the timeout, not later.
        replica.process.send_signal(signal.SIGCONT)
        with pytest.raises(BrokerUnavailable):
            _, _ = _accept(primary.url, first, min_replicas=2, timeout=0.3)
    finally:
        replica.process.send_signal(signal.SIGCONT)
    # The replica back: the resend is acknowledged (a duplicate, queued once).
    queued, took = _accept(primary.url, second, min_replicas=1, timeout=2.0)
    assert not queued
    assert took < 2.0
    assert keys.queued_messages(redis.Redis(port=replica.port), keys.QUEUE_ANNOTATE) == 2


def test_without_min_replicas_no_wait_is_sent(
    primary_and_replica: tuple[RedisServer, RedisServer],
) -> None:
    primary, _ = primary_and_replica
    client = redis.Redis(port=primary.port)
    before = int(client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))
    queued, _ = _accept(primary.url, wrap_oru("x", control_id="REP3"), min_replicas=0, timeout=1)
    assert queued
    assert int(client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0)) == before
