"""What the message store already holds of a backfill's reports (read-only queries).

A report counts as done once the store has its annotation, or its inbound
record with an error (unprocessable: running it again would fail the same way).
A report whose worker died after recording the inbound message but before the
annotation is not done, and runs again. Queries go in chunks of `CHUNK` keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hl7.errors import TransientError
from worker.store import Store
from worker.store_models import DeliveryAttempt, Flag, InboundMessage, ReportAnnotation

CHUNK = 500  # keys per IN (...): below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class StoredResult:
    """A stored result that may be sent: what the delivery task needs."""

    dedupe_key: str
    control_id: str
    result_control_id: str
    result_message: bytes
    received_at: str  # ISO 8601


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def done_keys(store: Store, keys: Iterable[str]) -> set[str]:
    """The keys among `keys` that are done (annotated, or recorded as unprocessable)."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    try:
        with Session(store.engine) as session:
            for chunk in _chunks(wanted):
                found.update(
                    session.scalars(
                        select(ReportAnnotation.dedupe_key).where(
                            ReportAnnotation.dedupe_key.in_(chunk)
                        )
                    )
                )
                found.update(
                    session.scalars(
                        select(InboundMessage.dedupe_key).where(
                            InboundMessage.dedupe_key.in_(chunk), InboundMessage.error.is_not(None)
                        )
                    )
                )
    except OperationalError as e:
        raise TransientError(f"message store unavailable: {e.orig!r}") from e
    return found


def flag_counts(store: Store, keys: Iterable[str]) -> Counter[str]:
    """Reports per flag code among the annotations of `keys`."""
    counts: Counter[str] = Counter()
    try:
        with Session(store.engine) as session:
            for chunk in _chunks(list(keys)):
                rows = session.execute(
                    select(Flag.code, Flag.annotation_id)
                    .join(ReportAnnotation, Flag.annotation_id == ReportAnnotation.id)
                    .where(ReportAnnotation.dedupe_key.in_(chunk))
                    .distinct()
                )
                counts.update(code for code, _ in rows)
    except OperationalError as e:
        raise TransientError(f"message store unavailable: {e.orig!r}") from e
    return counts


def unsent_results(store: Store, keys: Iterable[str]) -> list[StoredResult]:
    """The stored results among `keys` that no delivery was ever attempted for."""
    found: list[StoredResult] = []
    attempted = exists().where(DeliveryAttempt.dedupe_key == ReportAnnotation.dedupe_key)
    try:
        with Session(store.engine) as session:
            for chunk in _chunks(list(dict.fromkeys(keys))):
                rows = session.execute(
                    select(
                        ReportAnnotation.dedupe_key,
                        InboundMessage.control_id,
                        ReportAnnotation.result_control_id,
                        ReportAnnotation.result_message,
                        InboundMessage.received_at,
                    )
                    .join(InboundMessage, InboundMessage.dedupe_key == ReportAnnotation.dedupe_key)
                    .where(
                        ReportAnnotation.dedupe_key.in_(chunk),
                        ReportAnnotation.result_message.is_not(None),
                        ~attempted,
                    )
                )
                found.extend(
                    StoredResult(key, control_id, result_id, bytes(message), at.isoformat())
                    for key, control_id, result_id, message, at in rows
                    if result_id
                )
    except OperationalError as e:
        raise TransientError(f"message store unavailable: {e.orig!r}") from e
    return found
