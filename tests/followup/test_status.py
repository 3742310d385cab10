"""followup.status: the moves orders, appointments, reports, the clock and people make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from followup.model import ClinicalEvent, Interval, PatientId
from followup.status import StatusError, Tracked, apply_clock, apply_event, apply_person, due_window

REPORT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FROM, TO = due_window(REPORT, Interval(42, 56))
OPEN = Tracked("open", REPORT, FROM, TO)


def _event(kind: str, action: str, at: datetime, reference: str = "R1") -> ClinicalEvent:
    return ClinicalEvent(
        kind=kind, action=action, patient_ids=(PatientId("MRN1", "H"),), region="knee",  # type: ignore[arg-type]
        side="left", modality="MRI", at=at, reference=reference, scheduled_at=at,
    )  # fmt: skip


def test_due_window_counts_days_from_the_report() -> None:
    """42-56 days from 5 Jan 09:00."""
    expected = (datetime(2026, 2, 16, 9, 0, tzinfo=UTC), datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    assert due_window(REPORT, Interval(42, 56)) == expected


def test_booking_then_cancel_reopens() -> None:
    """An appointment schedules; cancelling the only booking returns to open."""
    booked = apply_event(OPEN, _event("appointment", "new", TO - timedelta(days=3)))
    assert booked.changed and booked.tracked.status == "scheduled"
    cancelled = apply_event(booked.tracked, _event("appointment", "cancelled", TO))
    assert cancelled.tracked.status == "open" and cancelled.tracked.bookings == ()


def test_cancel_keeps_scheduled_while_another_booking_stands() -> None:
    """Two bookings, one cancelled: still scheduled."""
    one = apply_event(OPEN, _event("order", "new", REPORT + timedelta(days=1), "O1")).tracked
    two = apply_event(one, _event("appointment", "new", TO, "A1")).tracked
    assert (
        apply_event(two, _event("appointment", "cancelled", TO, "A1")).tracked.status == "scheduled"
    )


def test_reschedule_keeps_status_and_records_the_new_time() -> None:
    """S13 for a known booking: same status, new time, a note saying rescheduled."""
    first = apply_event(OPEN, _event("appointment", "new", TO - timedelta(days=5))).tracked
    moved = apply_event(first, _event("appointment", "changed", TO - timedelta(days=1)))
    assert not moved.changed and "rescheduled" in moved.note
    assert moved.tracked.bookings == (("R1", TO - timedelta(days=1)),)


@pytest.mark.parametrize(
    ("at", "adherence"), [(TO - timedelta(hours=1), "adherent"), (TO + timedelta(days=1), "late")]
)
def test_report_completes_adherent_or_late(at: datetime, adherence: str) -> None:
    """A later report completes; inside the window adherent, after it late."""
    done = apply_event(OPEN, _event("report", "done", at))
    assert done.tracked.status == "completed" and done.adherence == adherence


def test_clock_overdue_only_past_window_and_nothing_ahead() -> None:
    """Open past the window: overdue. Scheduled with an appointment ahead: not yet."""
    assert not apply_clock(OPEN, TO).changed
    assert apply_clock(OPEN, TO + timedelta(seconds=1)).tracked.status == "overdue"
    ahead = apply_event(OPEN, _event("appointment", "new", TO + timedelta(days=10))).tracked
    assert not apply_clock(ahead, TO + timedelta(days=1)).changed
    assert apply_clock(ahead, TO + timedelta(days=13)).tracked.status == "overdue"


def test_closed_follow_ups_do_not_move() -> None:
    """Completed stays completed whatever comes."""
    done = apply_event(OPEN, _event("report", "done", TO)).tracked
    assert not apply_event(done, _event("appointment", "cancelled", TO)).changed
    assert not apply_clock(done, TO + timedelta(days=100)).changed
    with pytest.raises(StatusError, match="closed already"):
        apply_person(done, "not_needed", "patient declined")


def test_person_needs_a_reason_and_an_allowed_status() -> None:
    """not_needed / completed_elsewhere with a reason; nothing else."""
    assert apply_person(OPEN, "completed_elsewhere", "done at St Elsewhere").tracked.status == (
        "completed_elsewhere"
    )
    with pytest.raises(StatusError, match="reason"):
        apply_person(OPEN, "not_needed", "  ")
    with pytest.raises(StatusError, match="may set"):
        apply_person(OPEN, "completed", "because")
