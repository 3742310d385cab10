"""Rows for store tests: an inbound message recorded with test defaults."""

from __future__ import annotations

from datetime import datetime

from worker.store import Store


def record_inbound(
    store: Store,
    key: str,
    *,
    at: datetime,
    ack: str = "AA",
    error: str | None = None,
    message_type: str = "ORU^R01",
) -> None:
    """Record an inbound message whose control id is the last part of its dedupe key."""
    store.record_inbound(
        dedupe_key=key,
        control_id=key.split("|")[-1],
        sending_application="RIS",
        sending_facility="HOSP",
        message_type=message_type,
        raw=b"MSH|^~\\&|RIS|HOSP\r",
        ack_code=ack,
        error=error,
        received_at=at,
    )
