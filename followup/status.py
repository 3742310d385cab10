"""The status model: how orders, appointments, reports, the clock and people move a follow-up.

After Within Health's published model:

    open --order/appointment--> scheduled --report--> completed (adherent or late)
    open/scheduled --clock past the window, nothing booked ahead--> overdue
    scheduled --every booking cancelled--> open
    overdue --order/appointment--> scheduled;  overdue --report--> completed (late)
    any but closed --a person, with a reason--> not_needed | completed_elsewhere

Completed, not_needed and completed_elsewhere are closed: nothing moves them.
A rescheduled appointment keeps `scheduled` (its new time is recorded). The
functions here decide; `worker` stores the decision with who did it and when.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from followup.model import (
    CLOSED_STATUSES,
    COMPLETED,
    COMPLETED_ELSEWHERE,
    NOT_NEEDED,
    OPEN,
    OVERDUE,
    SCHEDULED,
    ClinicalEvent,
    Interval,
)

# An appointment that has passed gets this long for its report before the clock calls it overdue.
APPOINTMENT_GRACE = timedelta(days=2)
PERSON_STATUSES = (NOT_NEEDED, COMPLETED_ELSEWHERE)


class StatusError(ValueError):
    """A status change that the model does not allow (e.g. closing a closed follow-up)."""


@dataclass(frozen=True)
class Tracked:
    """What the status model needs to know about one stored recommendation."""

    status: str
    report_at: datetime
    due_from: datetime
    due_to: datetime
    bookings: tuple[tuple[str, datetime | None], ...] = ()  # (reference, appointment start)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES


@dataclass(frozen=True)
class Decision:
    """The outcome of one event: the new state, and what the audit trail should say."""

    tracked: Tracked
    changed: bool  # status changed
    note: str  # "booked", "rescheduled", "cancelled", "completed adherent", ...
    adherence: str | None = None  # "adherent" or "late" when completed


def due_window(report_at: datetime, interval: Interval) -> tuple[datetime, datetime]:
    """From and to, counted in days from the report's time."""
    return (
        report_at + timedelta(days=interval.min_days),
        report_at + timedelta(days=interval.max_days),
    )


def apply_event(tracked: Tracked, event: ClinicalEvent) -> Decision:
    """What an order, appointment or later report does to a matched follow-up."""
    if tracked.closed:
        return Decision(tracked, False, "closed already")
    if event.kind == "report":
        adherence = "adherent" if event.at <= tracked.due_to else "late"
        done = replace(tracked, status=COMPLETED)
        return Decision(done, True, f"completed {adherence}", adherence)
    reference = event.reference or event.accession
    others = tuple(b for b in tracked.bookings if b[0] != reference)
    if event.action == "cancelled":
        status = tracked.status
        if status == SCHEDULED and not others:
            status = OPEN
        after = replace(tracked, status=status, bookings=others)
        return Decision(after, status != tracked.status, f"{event.kind} cancelled")
    known = len(others) != len(tracked.bookings)
    after = replace(tracked, status=SCHEDULED, bookings=(*others, (reference, event.scheduled_at)))
    note = f"{event.kind} {'rescheduled' if known else 'booked'}"
    return Decision(after, tracked.status != SCHEDULED, note)


def apply_clock(tracked: Tracked, now: datetime) -> Decision:
    """Past the window with nothing booked ahead: overdue. Otherwise unchanged."""
    if tracked.status not in (OPEN, SCHEDULED) or now <= tracked.due_to:
        return Decision(tracked, False, "")
    if tracked.status == SCHEDULED:
        ahead = [
            at for _, at in tracked.bookings if at is not None and at + APPOINTMENT_GRACE > now
        ]
        if ahead:
            return Decision(tracked, False, "")
    return Decision(replace(tracked, status=OVERDUE), True, "past the due window")


def apply_person(tracked: Tracked, status: str, reason: str) -> Decision:
    """A person closes a follow-up as not needed or completed elsewhere, with a reason.

    Raises StatusError for another status, an empty reason, or a closed follow-up.
    """
    if status not in PERSON_STATUSES:
        raise StatusError(f"a person may set {' or '.join(PERSON_STATUSES)}, not {status!r}")
    if not reason.strip():
        raise StatusError("a reason is required")
    if tracked.closed:
        raise StatusError(f"the follow-up is closed already ({tracked.status})")
    return Decision(replace(tracked, status=status), True, reason.strip())
