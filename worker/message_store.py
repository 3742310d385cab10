"""The message browser's queries over the store: search stored messages, show one.

Strategy: SQL filters by the columns (control id, receipt day, type, ACK code,
accession through the annotation); the delivery state comes from the attempts
(`browse.delivery_state`), so a search by state reads at most `SCAN_LIMIT`
newest candidates and filters them here. Messages are addressed by their row id,
which is no health data. Report text and raw messages are returned to the
caller (the CLI, the operators' page), never logged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from browse import Attempt, MessageQuery, delivery_state
from worker.store import Store
from worker.store_models import DeliveryAttempt, InboundMessage, ReportAnnotation, as_utc

SCAN_LIMIT = 5000  # candidates read for one search that filters by delivery state


@dataclass(frozen=True)
class MessageRow:
    """One stored inbound message as a search lists it."""

    id: int
    control_id: str
    sending_application: str
    sending_facility: str
    message_type: str
    ack_code: str
    received_at: datetime
    accession: str | None
    result_control_id: str | None
    delivery: str
    dedupe_key: str


@dataclass(frozen=True)
class MessageDetail:
    """Everything stored about one message: raw, ACK, annotation, result, attempts."""

    row: MessageRow
    raw: bytes
    error: str | None
    annotation: dict[str, Any] | None
    result_message: bytes | None
    attempts: tuple[Attempt, ...]


def search_messages(store: Store, query: MessageQuery) -> list[MessageRow]:
    """Stored messages matching `query`, newest first, at most `query.limit`."""
    statement = (
        select(InboundMessage, ReportAnnotation.accession, ReportAnnotation.result_control_id,
               ReportAnnotation.result_message.is_not(None))
        .outerjoin(ReportAnnotation, ReportAnnotation.dedupe_key == InboundMessage.dedupe_key)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    )  # fmt: skip
    if query.control_id:
        statement = statement.where(InboundMessage.control_id == query.control_id)
    if query.accession:
        statement = statement.where(ReportAnnotation.accession == query.accession)
    if query.day_from:
        statement = statement.where(InboundMessage.received_at >= _start(query.day_from))
    if query.day_to:
        statement = statement.where(
            InboundMessage.received_at < _start(query.day_to) + timedelta(days=1)
        )
    if query.message_type:
        wanted = query.message_type.upper()  # ORU matches ORU^R01; ORU^R01 only itself
        statement = statement.where(
            (InboundMessage.message_type == wanted)
            | InboundMessage.message_type.startswith(wanted + "^", autoescape=True)
        )
    if query.ack_code:
        statement = statement.where(InboundMessage.ack_code == query.ack_code.upper())
    statement = statement.limit(SCAN_LIMIT if query.delivery else query.limit)
    with store._read_sessions() as session:
        found = session.execute(statement).all()
        attempts = _attempts(session, [m.dedupe_key for m, *_ in found])
    rows = [
        _row(message, accession, result_id, bool(has_result), attempts[message.dedupe_key])
        for message, accession, result_id, has_result in found
    ]
    if query.delivery:
        rows = [r for r in rows if r.delivery in query.delivery]
    return rows[: query.limit]


def message_detail(store: Store, message_id: int) -> MessageDetail | None:
    """One stored message with its annotation, result and delivery attempts; None if absent."""
    with store._read_sessions() as session:
        message = session.get(InboundMessage, message_id)
        if message is None:
            return None
        annotation = session.scalar(
            select(ReportAnnotation).filter_by(dedupe_key=message.dedupe_key)
        )
        attempts = _attempts(session, [message.dedupe_key])[message.dedupe_key]
    result = annotation.result_message if annotation is not None else None
    row = _row(
        message,
        annotation.accession if annotation is not None else None,
        annotation.result_control_id if annotation is not None else None,
        result is not None,
        attempts,
    )
    return MessageDetail(
        row=row,
        raw=message.raw,
        error=message.error,
        annotation=annotation.annotation if annotation is not None else None,
        result_message=result,
        attempts=tuple(sorted(attempts, key=lambda a: (a.at, a.attempt))),
    )


def _start(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _attempts(session: Any, dedupe_keys: list[str]) -> dict[str, list[Attempt]]:
    found: dict[str, list[Attempt]] = defaultdict(list)
    for start in range(0, len(dedupe_keys), 500):  # bounded IN lists
        chunk = dedupe_keys[start : start + 500]
        for attempt in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.dedupe_key.in_(chunk))
        ):
            found[attempt.dedupe_key].append(
                Attempt(
                    attempt=attempt.attempt,
                    outcome=attempt.outcome,
                    detail=attempt.detail,
                    at=as_utc(attempt.at),
                    result_control_id=attempt.result_control_id,
                )
            )
    return found


def _row(
    message: InboundMessage,
    accession: str | None,
    result_control_id: str | None,
    has_result: bool,
    attempts: list[Attempt],
) -> MessageRow:
    return MessageRow(
        id=message.id,
        control_id=message.control_id,
        sending_application=message.sending_application,
        sending_facility=message.sending_facility,
        message_type=message.message_type,
        ack_code=message.ack_code,
        received_at=as_utc(message.received_at),
        accession=accession,
        result_control_id=result_control_id,
        delivery=delivery_state(has_result, attempts),
        dedupe_key=message.dedupe_key,
    )
