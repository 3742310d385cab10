"""Search criteria for stored messages, and the delivery state of one message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

# delivered: the destination answered AA/CA; pending: a result waits for its first
# attempt (or no destination was configured); failed: the last attempt failed and
# it may be retried; rejected: the destination answered AR/CR; no_result: nothing
# to deliver (rejected on receipt, unprocessable, or not annotated yet).
DELIVERY_STATES = ("delivered", "pending", "failed", "rejected", "no_result")
UNDELIVERED_STATES = ("pending", "failed", "rejected")
MAX_LIMIT = 1000
# Attempt outcomes that mean the destination has the result (older rows say AA/CA).
DELIVERED_OUTCOMES = frozenset({"delivered", "AA", "CA", "accepted"})


class CriteriaError(ValueError):
    """A search criterion that cannot be used (a bad date, an unknown state)."""


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of a message's result."""

    attempt: int
    outcome: str  # delivered, failed or rejected
    detail: str
    at: datetime
    result_control_id: str = ""


@dataclass(frozen=True)
class MessageQuery:
    """What an operator searches stored messages by; None matches anything."""

    control_id: str | None = None  # the inbound MSH-10, exact
    accession: str | None = None
    day_from: date | None = None  # received on or after (UTC)
    day_to: date | None = None  # received on or before (UTC)
    message_type: str | None = None  # ORU, MDM, ...
    ack_code: str | None = None  # AA, AR, CA, ...
    delivery: tuple[str, ...] = ()  # states from DELIVERY_STATES; () any
    limit: int = 100

    def __post_init__(self) -> None:
        unknown = set(self.delivery) - set(DELIVERY_STATES)
        if unknown:
            raise CriteriaError(
                f"unknown delivery state {sorted(unknown)[0]!r}; "
                f"one of {', '.join(DELIVERY_STATES)}"
            )
        if not 1 <= self.limit <= MAX_LIMIT:
            raise CriteriaError(f"limit must be 1 to {MAX_LIMIT}, got {self.limit}")
        if self.day_from and self.day_to and self.day_from > self.day_to:
            raise CriteriaError("the start date is after the end date")


def delivery_state(has_result: bool, attempts: Sequence[Attempt]) -> str:
    """The delivery state of a message with (or without) a result and these attempts."""
    if any(a.outcome in DELIVERED_OUTCOMES for a in attempts):
        return "delivered"
    if not has_result:
        return "no_result"
    if not attempts:
        return "pending"
    last = max(attempts, key=lambda a: (a.at, a.attempt))
    return "rejected" if last.outcome == "rejected" else "failed"


def parse_day(text: str | None) -> date | None:
    """YYYY-MM-DD, or None for empty; raises CriteriaError otherwise."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as e:
        raise CriteriaError(f"expected a date as YYYY-MM-DD, got {text!r}") from e
