"""The follow-up domain as small frozen dataclasses (plain data: other outputs map them).

A `Recommendation` is what the FHIR output maps to a ServiceRequest, so it stays
plain: `to_dict()` gives JSON-ready values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Modality = Literal["MRI", "radiograph", "CT", "lab", "referral"]
# The flags' priority words (nlp.model.PRIORITY_RANK), so FHIR and the page read them alike.
Urgency = Literal["routine", "high", "urgent"]
Source = Literal["default", "report"]

MODALITIES: tuple[str, ...] = ("MRI", "radiograph", "CT", "lab", "referral")
URGENCIES: tuple[str, ...] = ("routine", "high", "urgent")

# Statuses (after Within Health's published model); see followup.status for the moves.
OPEN = "open"
SCHEDULED = "scheduled"
COMPLETED = "completed"
OVERDUE = "overdue"
NOT_NEEDED = "not_needed"
COMPLETED_ELSEWHERE = "completed_elsewhere"
STATUSES: tuple[str, ...] = (OPEN, SCHEDULED, COMPLETED, OVERDUE, NOT_NEEDED, COMPLETED_ELSEWHERE)
CLOSED_STATUSES: tuple[str, ...] = (COMPLETED, NOT_NEEDED, COMPLETED_ELSEWHERE)

# Courses of the edema between two exams of the same patient and site.
COURSES: tuple[str, ...] = ("new", "persistent", "improved", "resolved", "progressed")


@dataclass(frozen=True)
class Interval:
    """When the follow-up is due, in days from the report date: [min_days, max_days]."""

    min_days: int
    max_days: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_days <= self.max_days:
            raise ValueError(f"bad interval {self.min_days}..{self.max_days} days")


@dataclass(frozen=True)
class Recommendation:
    """One structured follow-up recommendation for one report.

    `evidence` holds (start, end) character offsets into the report text of the
    sentence(s) it was read from (empty for a default). `flag` is the flag code
    whose suggestion it structures (a report's own recommendation: the flag it
    stands in for, or "").
    """

    modality: Modality
    region: str | None  # knee, hip, ankle, shoulder, wrist, spine, or None
    side: str | None  # left, right, bilateral, or None
    interval: Interval
    urgency: Urgency
    condition: str | None  # "if pain persists", or None
    text: str
    source: Source
    evidence: tuple[tuple[int, int], ...] = ()
    flag: str = ""
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the keys the result OBX, the store and FHIR read."""
        return {
            "modality": self.modality,
            "region": self.region,
            "side": self.side,
            "interval_days": {"min": self.interval.min_days, "max": self.interval.max_days},
            # The same window as a pair, the form fhir_out.followups reads.
            "due_window_days": [self.interval.min_days, self.interval.max_days],
            "urgency": self.urgency,
            "condition": self.condition,
            "text": self.text,
            "source": self.source,
            "evidence": [{"start": s, "end": e} for s, e in self.evidence],
            "flag": self.flag,
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        """The inverse of `to_dict`."""
        return cls(
            modality=data["modality"],
            region=data.get("region"),
            side=data.get("side"),
            interval=Interval(data["interval_days"]["min"], data["interval_days"]["max"]),
            urgency=data["urgency"],
            condition=data.get("condition"),
            text=data["text"],
            source=data["source"],
            evidence=tuple((e["start"], e["end"]) for e in data.get("evidence", [])),
            flag=data.get("flag", ""),
            language=data.get("language", "en"),
        )


@dataclass(frozen=True)
class PatientId:
    """One PID-3 identifier with its assigning authority (CX.4), compared case-insensitively."""

    value: str
    authority: str = ""

    @property
    def key(self) -> str:
        """The lookup key: AUTHORITY|VALUE, upper-cased and trimmed."""
        return f"{self.authority.strip().upper()}|{self.value.strip().upper()}"


EventKind = Literal["order", "appointment", "report"]
EventAction = Literal["new", "changed", "cancelled", "done"]


@dataclass(frozen=True)
class ClinicalEvent:
    """An order, an appointment or a later report, reduced to what matching needs.

    `reference` names the order or appointment (placer/filler number, appointment
    id) so that a later change or cancellation finds what it changes.
    `at` is when the exam is or was done (appointment start, report time), or
    when the order was placed.
    """

    kind: EventKind
    action: EventAction
    patient_ids: tuple[PatientId, ...]
    region: str | None
    side: str | None
    modality: str | None
    at: datetime
    reference: str = ""
    accession: str = ""
    procedure: str | None = None
    scheduled_at: datetime | None = None  # appointment start, when known

    @property
    def patient_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.key for p in self.patient_ids if p.value.strip()))


@dataclass(frozen=True)
class AuditEntry:
    """One status change: from, to, who or what did it, when, why."""

    from_status: str | None
    to_status: str
    actor: str  # "radflag" (a rule), "radflag-beat" (the clock), or a person
    at: datetime
    reason: str = ""
    reference: str = ""  # the message (dedupe key) or order/appointment behind it


@dataclass(frozen=True)
class Course:
    """The course of the edema against an earlier exam, and whether it escalates."""

    course: str  # one of COURSES
    basis: str  # "comparison" (the report says so) or "annotations" (the two compared)
    escalate_osteonecrosis: bool = False
    evidence: tuple[tuple[int, int], ...] = field(default=())
    reason: str = ""
