"""Send a stored result again, or run a stored message through annotation again.

Strategy: both publish the same Celery tasks the service itself publishes, so
the workers treat them as any other: a resend is a `deliver` task with the
stored result bytes and their MSH-10 (the destination can recognise a repeat)
and a fresh retry budget; a reprocess is an `annotate` task with the stored raw
message, stamped now, so its result gets a new MSH-10. Which workers deliver,
and where, is up to their own --destination.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from worker import keys
from worker.message_store import MessageDetail

Publish = Callable[[str, dict[str, Any]], None]


class NothingToResend(ValueError):
    """The message has no stored result (rejected on receipt, unprocessable, not annotated)."""


def resend(detail: MessageDetail, publish: Publish, *, now: datetime | None = None) -> str:
    """Queue the stored result for delivery again; return its MSH-10.

    Raises NothingToResend without a stored result, BrokerUnavailable when Redis is down.
    """
    row = detail.row
    if detail.result_message is None or not row.result_control_id:
        raise NothingToResend(f"message {row.id} (control id {row.control_id}) has no result")
    publish(
        keys.TASK_DELIVER,
        {
            "result_b64": base64.b64encode(detail.result_message).decode("ascii"),
            "result_control_id": row.result_control_id,
            "dedupe_key": row.dedupe_key,
            "control_id": row.control_id,
            "first_attempt_at": (now or datetime.now(UTC)).isoformat(),
        },
    )
    return row.result_control_id


def reprocess(detail: MessageDetail, publish: Publish, *, now: datetime | None = None) -> None:
    """Queue the stored inbound message for annotation again (a new result follows).

    Raises BrokerUnavailable when Redis is down.
    """
    row = detail.row
    publish(
        keys.TASK_ANNOTATE,
        {
            "raw_b64": base64.b64encode(detail.raw).decode("ascii"),
            "control_id": row.control_id,
            "dedupe_key": row.dedupe_key,
            "received_at": (now or datetime.now(UTC)).isoformat(),
            "ack_code": row.ack_code,
        },
    )
