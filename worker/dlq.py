"""The dead-letter store: results the destination rejected (AR/CR) or that ran out of retries.

Strategy: one Redis hash (`keys.DLQ_KEY`), entry id -> JSON, in the same Redis
as the queues, so it is as durable as they are (AOF) and needs no second
service. A replay publishes the task again *before* removing the entry: a crash
in between gives at worst a second delivery of the same result (same MSH-10,
which the destination can recognise), never a lost one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from worker import keys
from worker.counters import COUNTERS_KEY, counter_field

STAGE_DELIVER = "deliver"
STAGE_ANNOTATE = "annotate"
STAGE_FHIR = "fhir"
STAGE_FOLLOWUP = "followup"  # an order or appointment (docs/followups.md)


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message and why it is here."""

    stage: str  # "deliver" (a result), "fhir" (a FHIR Bundle) or "annotate" (an inbound message)
    reason: str  # "rejected", "exhausted" or "unprocessable"
    detail: str
    dedupe_key: str
    control_id: str  # the inbound MSH-10
    message_b64: str  # the result message (deliver), the Bundle (fhir) or the inbound message
    result_control_id: str | None = None
    attempts: int = 0
    first_attempt_at: str | None = None
    destination: str | None = None  # HOST:PORT when not the results destination
    dead_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def summary(self) -> dict[str, Any]:
        """Everything but the message itself (which holds health data)."""
        out = asdict(self)
        del out["message_b64"]
        return out


def add(client: Any, entry: DeadLetter) -> str:
    """Store `entry` and count it (radflag_dead_lettered_total); return its id.

    `client` may be a pipeline: the entry and its count are then written together.
    """
    client.hset(keys.DLQ_KEY, entry.id, json.dumps(asdict(entry)))
    field = counter_field(
        "radflag_dead_lettered_total", {"stage": entry.stage, "reason": entry.reason}
    )
    client.hincrby(COUNTERS_KEY, field, 1)
    return entry.id


def get(client: redis.Redis, entry_id: str) -> DeadLetter | None:
    """The entry with this id, or None."""
    raw = client.hget(keys.DLQ_KEY, entry_id)
    return None if raw is None else DeadLetter(**json.loads(raw))  # type: ignore[arg-type]


def entries(client: redis.Redis) -> list[DeadLetter]:
    """All entries, oldest first."""
    found = [DeadLetter(**json.loads(v)) for v in client.hvals(keys.DLQ_KEY)]  # type: ignore[union-attr]
    return sorted(found, key=lambda e: (e.dead_at, e.id))


def entry_ids(client: redis.Redis) -> list[str]:
    """The ids of all entries, in no particular order."""
    return [i.decode() if isinstance(i, bytes) else i for i in client.hkeys(keys.DLQ_KEY)]  # type: ignore[union-attr]


def remove(client: redis.Redis, entry_ids: list[str] | None = None) -> int:
    """Remove the given entries (all when None); return how many were removed."""
    if entry_ids is None:
        count = int(client.hlen(keys.DLQ_KEY))  # type: ignore[arg-type]
        client.delete(keys.DLQ_KEY)
        return count
    return int(client.hdel(keys.DLQ_KEY, *entry_ids)) if entry_ids else 0  # type: ignore[arg-type]


def replay(
    client: redis.Redis, entry: DeadLetter, publish: Callable[[str, dict[str, Any]], None]
) -> None:
    """Publish the entry's task again (a fresh retry budget), then remove the entry."""
    if entry.stage == STAGE_DELIVER:
        publish(
            keys.TASK_DELIVER,
            {
                "result_b64": entry.message_b64,
                "result_control_id": entry.result_control_id,
                "dedupe_key": entry.dedupe_key,
                "control_id": entry.control_id,
                "first_attempt_at": datetime.now(UTC).isoformat(),
                **({"destination": entry.destination} if entry.destination else {}),
            },
        )
    elif entry.stage == STAGE_FHIR:
        publish(
            keys.TASK_DELIVER_FHIR,
            {
                "bundle_b64": entry.message_b64,
                "dedupe_key": entry.dedupe_key,
                "control_id": entry.control_id,
                "first_attempt_at": datetime.now(UTC).isoformat(),
            },
        )
    else:
        publish(
            keys.TASK_FOLLOWUP_EVENT if entry.stage == STAGE_FOLLOWUP else keys.TASK_ANNOTATE,
            {
                "raw_b64": entry.message_b64,
                "control_id": entry.control_id,
                "dedupe_key": entry.dedupe_key,
                "received_at": datetime.now(UTC).isoformat(),
                "ack_code": "",
            },
        )
    remove(client, [entry.id])
