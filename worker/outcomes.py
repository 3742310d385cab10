"""Where a task's message ends: settled in the journal, dead-lettered, or kept for a retry.

Strategy: the tasks (worker/tasks.py) call these once the outcome of a message
is kept for good; each removes the message's journal entry (worker/journal.py)
in the same Redis transaction as the dead-letter entry, if any. A Redis error
becomes TransientError, so the caller retries rather than lets go.

`OutcomeRequest` is the Celery request class of radflag's tasks: when a task
hits the hard time limit, its pool process is killed and Celery acknowledges
the message, so the main process dead-letters it with the reason first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import redis
from celery.worker.request import Request

from hl7.errors import TransientError
from worker import celery_app, dlq, journal, keys
from worker.celery_app import app

log = logging.getLogger(__name__)

_clients: dict[tuple[int, str], redis.Redis] = {}


def broker_client() -> redis.Redis:
    """This process's client of the broker's Redis (the journal and the DLQ live there)."""
    url = str(app.conf.broker_url)
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = celery_app.broker_client()  # Sentinel-aware
    return client


def annotate_entry(dedupe_key: str) -> str:
    """The journal id of an accepted message (its annotate task)."""
    return journal.entry_id(keys.TASK_ANNOTATE, dedupe_key)


def letter_entry(letter: dlq.DeadLetter) -> str:
    """The journal id a dead letter settles: its follow-up event's, else its annotate task's.

    A FHIR Bundle's letter leaves the message's journal entry alone (its HL7 result
    may still be on its way): it is written under an id of its own.
    """
    if letter.stage == dlq.STAGE_FOLLOWUP:
        return journal.entry_id(keys.TASK_FOLLOWUP_EVENT, letter.dedupe_key)
    if letter.stage == dlq.STAGE_FHIR:
        return journal.entry_id(keys.TASK_DELIVER_FHIR, letter.dedupe_key)
    return annotate_entry(letter.dedupe_key)


def touch(entry: str) -> None:
    """A task started on the entry: the reconciler leaves it alone for a while."""
    try:
        journal.touch(broker_client(), entry)
    except redis.RedisError as e:  # only a hint for the reconciler
        log.debug("journal touch failed: %s", type(e).__name__)


def settle(entry: str, also: Callable[[Any], None] | None = None) -> None:
    """The outcome is kept: remove the journal entry. Raises TransientError.

    `also(pipe)` queues more commands on the same round trip (see journal.settle).
    """
    settle_many([entry], also)


def settle_many(entries: list[str], also: Callable[[Any], None] | None = None) -> None:
    """`settle` for many entries, in one round trip. Raises TransientError."""
    try:
        journal.settle_many(broker_client(), entries, also)
    except redis.RedisError as e:
        raise TransientError(f"journal unavailable: {type(e).__name__}") from e


def dead_letter(letter: dlq.DeadLetter, entry: str) -> None:
    """Dead-letter and settle in one transaction. Raises TransientError."""
    try:
        journal.settle_with_dead_letter(broker_client(), entry, letter)
    except redis.RedisError as e:
        raise TransientError(f"dead-letter store unavailable: {type(e).__name__}") from e


# Tasks a time limit dead-letters: their stage in the dead-letter store and the
# argument holding their message.
_TIME_LIMITED = {
    keys.TASK_ANNOTATE: (dlq.STAGE_ANNOTATE, "raw_b64"),
    keys.TASK_DELIVER: (dlq.STAGE_DELIVER, "result_b64"),
    keys.TASK_DELIVER_FHIR: (dlq.STAGE_FHIR, "bundle_b64"),
    keys.TASK_FOLLOWUP_EVENT: (dlq.STAGE_FOLLOWUP, "raw_b64"),
}


def time_limit_letter(task_name: str, kwargs: dict[str, Any], detail: str) -> dlq.DeadLetter | None:
    """The dead letter for a task that ran out of time; None for a task that has none."""
    if task_name not in _TIME_LIMITED:
        return None
    stage, message = _TIME_LIMITED[task_name]
    return dlq.DeadLetter(
        stage=stage,
        reason="time limit",
        detail=detail,
        dedupe_key=kwargs["dedupe_key"],
        control_id=kwargs.get("control_id", ""),
        message_b64=kwargs[message],
        result_control_id=kwargs.get("result_control_id"),
        first_attempt_at=kwargs.get("first_attempt_at"),
        destination=kwargs.get("destination"),  # an overdue notice's receiver
    )


class OutcomeRequest(Request):
    """Dead-letters a task killed by the hard time limit before Celery acknowledges it."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        if not soft:
            self._dead_letter_timed_out(timeout)
        super().on_timeout(soft, timeout)

    def _dead_letter_timed_out(self, timeout: float) -> None:
        kwargs = self.kwargs or {}
        try:
            letter = time_limit_letter(
                self.task_name, kwargs, f"hard time limit of {timeout:g} s exceeded"
            )
            if letter is None:
                return  # the journal brings it back
            dead_letter(letter, letter_entry(letter))
        except (TransientError, KeyError, TypeError) as e:
            # The journal entry stays: the reconciler queues the message again.
            log.error("timed-out task not dead-lettered id=%s: %s", self.id, type(e).__name__)
            return
        log.error(
            "dead-lettered control_id=%s reason=time limit entry=%s", letter.control_id, letter.id
        )
