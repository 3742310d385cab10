"""The listener takes orders and appointments for follow-ups: queued and ACKed, not annotated."""

from __future__ import annotations

import json

import pytest
import redis

from hl7.ack import parse_ack
from hl7.mllp import encode_frame
from tests.followup.messages import appointment, order, report
from tests.servers import RedisServer, run_listener
from tests.worker.test_listener import _exchange
from worker import keys
from worker.settings import Settings

pytestmark = pytest.mark.integration


def _tasks(client: redis.Redis, queue: str) -> list[str]:
    names = []
    for raw in client.lrange(queue, 0, -1):  # type: ignore[union-attr]
        envelope = json.loads(raw)
        names.append(envelope["headers"]["task"])
        assert keys.task_kwargs(raw) is not None  # a body a worker can read
    return names


def test_orders_and_appointments_are_queued_for_follow_ups(
    publishing: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """ORM^O01, OMI^O23, SIU^S12/S15: AA and the store queue; a report still goes to annotate."""
    messages = [
        order("L1", "MRN1", placer="PL1"),
        order("L2", "MRN1", placer="PL2", message_type="OMI^O23^OMI_O23"),
        appointment("L3", "MRN1", appointment_id="AP1", start="20260220100000"),
        appointment("L4", "MRN1", appointment_id="AP1", start="20260220100000", trigger="S15"),
        report("L5", "MRN1", "Findings: bone marrow edema in the medial femoral condyle."),
    ]
    blob = b"".join(encode_frame(m) for m in messages)
    answers = run_listener(publishing, redis_server.url, lambda lst: _exchange(lst.port, [blob], 5))
    assert [(a.code, a.acked_control_id) for a in map(parse_ack, answers)] == [
        ("AA", f"L{i}") for i in range(1, 6)
    ]
    assert _tasks(redis_client, keys.QUEUE_STORE) == [keys.TASK_FOLLOWUP_EVENT] * 4
    assert _tasks(redis_client, keys.QUEUE_ANNOTATE) == [keys.TASK_ANNOTATE_BATCH]
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 1
    journalled = [e.decode() for e in redis_client.hkeys(keys.JOURNAL_KEY)]  # type: ignore[union-attr]
    assert sorted(journalled) == sorted(
        [f"{keys.TASK_FOLLOWUP_EVENT}|RIS|GENHOSP|L{i}" for i in range(1, 5)]
        + [f"{keys.TASK_ANNOTATE}|RIS|GENHOSP|L5"]
    )  # each kept until its outcome is stored (worker/journal.py)


@pytest.mark.parametrize(
    ("message", "error_code", "text"),
    [
        (order("B1", "", placer="PL1"), "101", "PID-3"),
        (order("B2", "MRN1", placer="PL1", placed="yesterday"), "102", "ORC-9"),
        (appointment("B3", "MRN1", appointment_id="AP", start="20260220", trigger="S17"), "201",
         "SIU^S17"),
    ],
)  # fmt: skip
def test_unusable_orders_get_ar_with_the_reason(
    publishing: Settings,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    message: bytes,
    error_code: str,
    text: str,
) -> None:
    """No PID-3, a bad time, an untracked trigger: AR with ERR and its reason; recorded only."""
    answers = run_listener(
        publishing, redis_server.url, lambda lst: _exchange(lst.port, [encode_frame(message)], 1)
    )
    ack = parse_ack(answers[0])
    assert (ack.code, ack.error_code) == ("AR", error_code) and text in ack.text
    assert _tasks(redis_client, keys.QUEUE_STORE) == [keys.TASK_RECORD_REJECTED]
