"""Follow-up events and the intake journal and dead-letter store: nothing acknowledged is lost."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from worker import dlq, journal, keys, outcomes

pytestmark = pytest.mark.integration

KWARGS = {
    "raw_b64": "TVNIfA==",
    "control_id": "O1",
    "dedupe_key": "CPOE|H|O1",
    "received_at": "2026-01-10T10:00:00+00:00",
    "ack_code": "AA",
}


def test_replaying_a_follow_up_letter_sends_it_to_the_follow_up_task(
    redis_client: redis.Redis,
) -> None:
    """Stage `followup` goes back to radflag.followup_event, not to annotation."""
    letter = dlq.DeadLetter(
        stage=dlq.STAGE_FOLLOWUP, reason="failed", detail="KeyError",
        dedupe_key=KWARGS["dedupe_key"], control_id="O1", message_b64=KWARGS["raw_b64"],
    )  # fmt: skip
    dlq.add(redis_client, letter)
    sent: list[tuple[str, dict[str, Any]]] = []
    dlq.replay(redis_client, letter, lambda name, kwargs: sent.append((name, kwargs)))
    ((name, kwargs),) = sent
    assert name == keys.TASK_FOLLOWUP_EVENT and kwargs["raw_b64"] == KWARGS["raw_b64"]
    assert dlq.entries(redis_client) == []


def test_time_limit_letter_settles_the_follow_up_entry() -> None:
    """A follow-up event killed by the time limit is dead-lettered against its own entry."""
    letter = outcomes.time_limit_letter(keys.TASK_FOLLOWUP_EVENT, KWARGS, "hard limit")
    assert letter is not None and letter.stage == dlq.STAGE_FOLLOWUP
    assert outcomes.letter_entry(letter) == journal.entry_id(
        keys.TASK_FOLLOWUP_EVENT, KWARGS["dedupe_key"]
    )


def test_notification_letters_keep_their_destination(redis_client: redis.Redis) -> None:
    """A dead-lettered overdue notice is replayed to the follow-up destination."""
    kwargs = {
        "result_b64": "TVNIfA==", "result_control_id": "FU1", "dedupe_key": "followup|abc",
        "control_id": "FU1", "first_attempt_at": "2026-03-01T00:00:00+00:00",
        "destination": "127.0.0.1:2999",
    }  # fmt: skip
    letter = outcomes.time_limit_letter(keys.TASK_DELIVER, kwargs, "hard limit")
    assert letter is not None and letter.destination == "127.0.0.1:2999"
    dlq.add(redis_client, letter)
    sent: list[tuple[str, dict[str, Any]]] = []
    dlq.replay(redis_client, letter, lambda name, kw: sent.append((name, kw)))
    assert sent[0][0] == keys.TASK_DELIVER and sent[0][1]["destination"] == "127.0.0.1:2999"
