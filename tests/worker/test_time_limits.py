"""Bounded work: a task over its time limit is dead-lettered with the reason, never dropped."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from unittest.mock import Mock

import pytest
import redis
from celery.contrib.testing.mocks import TaskMessage
from kombu.utils.imports import symbol_by_name

from hl7.ack import parse_ack
from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RedisServer,
    mllp_exchange,
    running,
    service_env,
    start_listener,
    start_worker,
    wait_until,
)
from worker import dlq, journal, keys
from worker.celery_app import app
from worker.outcomes import OutcomeRequest
from worker.settings import Settings

TEXT = "FINDINGS:\nBone marrow edema in the medial femoral condyle.\n"


def _annotate_kwargs(control_id: str) -> dict[str, str]:
    return {
        "raw_b64": base64.b64encode(wrap_oru(TEXT, None, control_id=control_id)).decode(),
        "control_id": control_id,
        "dedupe_key": f"RIS|GENHOSP|{control_id}",
        "received_at": "2026-01-01T00:00:00+00:00",
        "ack_code": "AA",
    }


def test_every_task_uses_the_request_that_dead_letters_on_the_hard_limit() -> None:
    import worker.tasks  # noqa: F401  (registers the tasks)

    for name in (keys.TASK_ANNOTATE, keys.TASK_DELIVER, keys.TASK_RECORD_REJECTED):
        assert symbol_by_name(app.tasks[name].Request) is OutcomeRequest


@pytest.mark.parametrize("soft", [False, True])
def test_the_hard_limit_dead_letters_and_settles_the_journal(
    publishing: Settings, redis_client: redis.Redis, soft: bool
) -> None:
    import worker.tasks  # noqa: F401

    kwargs = _annotate_kwargs("SLOW1")
    entry = journal.entry_id(keys.TASK_ANNOTATE, kwargs["dedupe_key"])
    pipe = redis_client.pipeline(transaction=True)
    journal.add_to_pipeline(pipe, entry, keys.TASK_ANNOTATE, kwargs, now=1.0)
    pipe.execute()
    message = TaskMessage(keys.TASK_ANNOTATE, kwargs=kwargs)
    on_ack = Mock()
    request = OutcomeRequest(message, app=app, task=app.tasks[keys.TASK_ANNOTATE], on_ack=on_ack)
    request.on_timeout(soft, 8.0)
    letters = dlq.entries(redis_client)
    if soft:  # the task itself handles its soft limit; nothing here
        assert letters == [] and journal.size(redis_client) == 1
        return
    assert [(e.reason, e.detail, e.control_id) for e in letters] == [
        ("time limit", "hard time limit of 8 s exceeded", "SLOW1")
    ]
    assert letters[0].message_b64 == kwargs["raw_b64"]  # replayable
    assert journal.size(redis_client) == 0
    on_ack.assert_called_once()  # and Celery acknowledged it after


@pytest.mark.integration
def test_a_report_over_the_time_limit_is_dead_lettered_with_the_reason(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    destination: MllpDestination,
) -> None:
    env = service_env(
        tmp_path / "data", redis_server.url, destination=destination.address,
        task_soft_time_limit=0.05, task_time_limit=0.3, max_frame_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    long_text = "FINDINGS:\n" + "Bone marrow edema in the medial femoral condyle.\n" * 8000
    listener, port = start_listener(env, tmp_path)
    worker = start_worker(env, tmp_path, queues="annotate,store,deliver", concurrency=1)
    with running(listener, worker):
        answers = mllp_exchange(port, [wrap_oru(long_text, None, control_id="SLOW2")], timeout=30)
        assert parse_ack(answers[0]).code == "AA"
        wait_until(lambda: dlq.entries(redis_client), timeout=60, what="a dead letter")
        wait_until(lambda: journal.size(redis_client) == 0, timeout=30, what="journal settled")
    (letter,) = dlq.entries(redis_client)
    assert letter.reason == "time limit" and letter.control_id == "SLOW2"
    assert "time limit of" in letter.detail
    assert destination.received == []
    assert json.loads(json.dumps(letter.summary()))["stage"] == dlq.STAGE_ANNOTATE
