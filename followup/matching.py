"""Which open follow-ups an order, an appointment or a later report belongs to.

Strategy: precision first, since a wrong closure hides a patient who still
needs the exam. An event matches a follow-up when
- a patient identifier is the same: PID-3 value *and* assigning authority
  (CX.4), case-insensitive; an identifier without an authority only meets one
  without an authority;
- the body region is the same (a follow-up without a region is closed by
  people only);
- the side is compatible (`followup.regions.sides_compatible`: the other side
  never is; bilateral covers both; a procedure that names no side is accepted);
- the modality is the same where the event says one (an MRI follow-up is not
  closed by a radiograph); lab and referral follow-ups are closed by people;
- the event comes after the report that made the follow-up, and not later
  than `LATE_HORIZON` after its window (a knee MRI two years on is a new story);
- a report is not the report that made the follow-up (same accession).
Cancellations and reschedules find their follow-ups by the booking's
reference, not by these rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from followup.model import ClinicalEvent
from followup.regions import sides_compatible

LATE_HORIZON = timedelta(days=180)
IMAGING = ("MRI", "CT", "radiograph")


@dataclass(frozen=True)
class Candidate:
    """A stored follow-up, as matching sees it."""

    patient_keys: frozenset[str]
    region: str | None
    side: str | None
    modality: str
    report_at: datetime
    due_to: datetime
    accession: str = ""


def matches(candidate: Candidate, event: ClinicalEvent) -> bool:
    """Whether `event` is the follow-up exam (or its order or appointment) of `candidate`."""
    if not candidate.patient_keys & set(event.patient_keys):
        return False
    if candidate.region is None or event.region != candidate.region:
        return False
    if not sides_compatible(candidate.side, event.side):
        return False
    if candidate.modality not in IMAGING:
        return False
    if event.modality is not None and event.modality != candidate.modality:
        return False
    if event.kind == "report" and event.accession and event.accession == candidate.accession:
        return False
    return candidate.report_at < event.at <= candidate.due_to + LATE_HORIZON


def matching(candidates: Iterable[tuple[int, Candidate]], event: ClinicalEvent) -> list[int]:
    """The ids of the candidates `event` matches."""
    return [key for key, candidate in candidates if matches(candidate, event)]
