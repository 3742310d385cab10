"""The FHIR deliveries' state in the message store: one row per report, beside the MLLP result's.

Strategy: the FHIR Bundle of a report is delivered on its own (its own task,
retries and dead letter), so its state is its own row, keyed like every other
row by the inbound message's dedupe key and written as an upsert a Celery
retry may repeat. Attempts only move a row forward: a late record of attempt
2 does not overwrite what attempt 3 wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.fhir_store_models import FhirDelivery
from worker.store import Store

STATES = ("pending", "retrying", "delivered", "rejected", "dead")


def record_fhir_delivery(
    store: Store,
    *,
    dedupe_key: str,
    accession: str | None,
    state: str,
    attempts: int,
    run_started: datetime,
    detail: str = "",
    http_status: int | None = None,
    at: datetime | None = None,
) -> None:
    """Record where the report's Bundle stands (pending when queued, then each attempt).

    `run_started` is the first attempt time of this run of the delivery task (a
    replay from the dead-letter store starts a new run). A record of an older
    run, or of an earlier attempt of the same run, than the stored one is
    ignored. `accession` None keeps the stored one. Raises TransientError when
    the database cannot be reached.
    """
    if state not in STATES:
        raise ValueError(f"unknown FHIR delivery state {state!r}")
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    run = run_started.astimezone(UTC)

    def upsert(session: Session) -> None:
        row = session.scalar(select(FhirDelivery).filter_by(dedupe_key=dedupe_key))
        if row is None:
            row = FhirDelivery(dedupe_key=dedupe_key, first_attempt_at=run, attempts=0)
            session.add(row)
        elif run < row.first_attempt_at or (
            run == row.first_attempt_at and attempts < row.attempts
        ):
            return
        if accession is not None or row.accession is None:
            row.accession = accession or ""
        row.first_attempt_at = run
        row.state = state
        row.attempts = attempts
        row.http_status = http_status
        row.detail = detail[:1000]
        row.updated_at = moment
        row.delivered_at = moment if state == "delivered" else None

    store._write(upsert)


def fhir_delivery(store: Store, dedupe_key: str) -> dict[str, Any] | None:
    """The stored state of one report's FHIR delivery, or None."""
    with store._sessions() as session:
        row = session.scalar(select(FhirDelivery).filter_by(dedupe_key=dedupe_key))
        if row is None:
            return None
        return {
            "accession": row.accession,
            "state": row.state,
            "attempts": row.attempts,
            "http_status": row.http_status,
            "detail": row.detail,
            "first_attempt_at": row.first_attempt_at,
            "updated_at": row.updated_at,
            "delivered_at": row.delivered_at,
        }
