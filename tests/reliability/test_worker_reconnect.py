"""A worker that held a task (waiting for its ETA) when Redis was killed puts it back once
Redis is up again, instead of leaving it in kombu's `unacked` for the visibility timeout
(worker/failover_consumer.py); the task then runs and its result arrives.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RedisServer,
    running,
    service_env,
    start_worker,
    wait_until,
)
from worker import celery_app, keys
from worker.celery_app import visibility_timeout
from worker.settings import Settings

pytestmark = pytest.mark.integration

REPORT = "MRI LEFT KNEE\n\nFindings:\nBone marrow edema in the medial femoral condyle."


def test_task_held_at_a_redis_kill_runs_after_the_restart(
    tmp_path: Path, destination: MllpDestination
) -> None:
    server = RedisServer(
        tmp_path / "redis", appendfsync="always", log_path=tmp_path / "redis.log"
    ).start()
    env = service_env(tmp_path / "data", server.url, destination=destination.address)
    worker = start_worker(env, tmp_path, queues="annotate,store,deliver")
    try:
        with running(worker):
            settings = Settings(data_dir=tmp_path / "data", destination=destination.address)
            app = celery_app.configure(settings, redis_url=server.url)
            raw = wrap_oru(REPORT, control_id="HELD1")
            app.send_task(
                keys.TASK_ANNOTATE,
                kwargs={
                    "raw_b64": base64.b64encode(raw).decode("ascii"),
                    "control_id": "HELD1",
                    "dedupe_key": "RIS|GENHOSP|HELD1",
                    "received_at": datetime.now(UTC).isoformat(),
                    "ack_code": "AA",
                },
                countdown=6,  # the worker holds it (unacknowledged) until then
            )
            client = redis.Redis(port=server.port)
            wait_until(lambda: client.hlen(keys.UNACKED_KEY) == 1, timeout=30, what="held")
            client.close()
            server.kill()  # SIGKILL: the worker's connection drops with the task held
            server.start()  # same port, same AOF (appendfsync always: `unacked` kept)
            worker.wait_for_log("put back on their queue", timeout=60)
            destination.wait_for(1, timeout=60)  # long before the visibility timeout
            assert visibility_timeout(settings) > 300
            assert b"HELD1" in destination.received[0]
    finally:
        server.stop()
