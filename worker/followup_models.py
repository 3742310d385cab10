"""The follow-up tables (SQLAlchemy models on the message store's metadata).

Strategy: one row per recommendation (`followups`), keyed by the report message
and its position, so a repeated annotation task upserts rather than adds; the
patient's identifiers in their own table so an order with any of them finds
the follow-up by index; every status change in `followup_audit` (who or what,
when, why); every order, appointment and report seen in `followup_exams` (the
patient's timeline, and the course of the edema); and each overdue
notification in `followup_notifications`, unique per follow-up and status
change, so a notification is built once however often the beat runs.
`version` counts updates (SQLAlchemy's version counter): two writers of one
follow-up cannot both win. Created by the migration `followups_1`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from worker.store_models import Base, UtcDateTime


class FollowupRow(Base):
    """One structured recommendation and where it stands."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "position", name="uq_followups_source"),
        Index("ix_followups_status_due", "status", "due_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    dedupe_key: Mapped[str] = mapped_column(String(600))  # the report message
    position: Mapped[int] = mapped_column(Integer)  # its place among the report's recommendations
    control_id: Mapped[str] = mapped_column(String(200))
    accession: Mapped[str] = mapped_column(String(200))
    procedure: Mapped[str | None] = mapped_column(String(400))
    patient: Mapped[str] = mapped_column(String(400))  # first PID-3 as "id (authority)", for people
    patient_keys: Mapped[list[str]] = mapped_column(JSON)
    sending_application: Mapped[str] = mapped_column(String(200))  # HD, standard delimiters
    sending_facility: Mapped[str] = mapped_column(String(200))
    order_segments: Mapped[list[str]] = mapped_column(JSON)  # PID, PV1, ORC, OBR (standard)
    report_at: Mapped[datetime] = mapped_column(UtcDateTime())
    modality: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(40))
    side: Mapped[str | None] = mapped_column(String(20))
    due_from: Mapped[datetime] = mapped_column(UtcDateTime())
    due_to: Mapped[datetime] = mapped_column(UtcDateTime())
    urgency: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    recommendation: Mapped[dict] = mapped_column(JSON)  # Recommendation.to_dict()
    status: Mapped[str] = mapped_column(String(30))
    status_at: Mapped[datetime] = mapped_column(UtcDateTime())
    adherence: Mapped[str | None] = mapped_column(String(20))  # adherent / late when completed
    bookings: Mapped[list] = mapped_column(JSON)  # [[reference, ISO start or null], ...]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)

    # For writing a new follow-up's keys and first audit entry with it, in the unit of
    # work's own order and without a flush for its id; never loaded (reads query them).
    new_keys: Mapped[list[FollowupPatientKey]] = relationship(lazy="noload")
    new_audit: Mapped[list[FollowupAudit]] = relationship(lazy="noload")


class FollowupPatientKey(Base):
    """One PID-3 identifier (AUTHORITY|VALUE) of a follow-up's patient."""

    __tablename__ = "followup_patient_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(400), index=True)


class FollowupAudit(Base):
    """One status change: from, to, who or what, when, why, and the message behind it."""

    __tablename__ = "followup_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(600))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class FollowupExam(Base):
    """An order, appointment or report seen for a patient: the timeline, and the course."""

    __tablename__ = "followup_exams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    patient_key: Mapped[str] = mapped_column(String(400), index=True)  # the first PID-3
    patient_keys: Mapped[list[str]] = mapped_column(JSON)
    reference: Mapped[str] = mapped_column(String(400))
    accession: Mapped[str] = mapped_column(String(200))
    procedure: Mapped[str | None] = mapped_column(String(400))
    modality: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(40))
    side: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    findings: Mapped[dict | None] = mapped_column(JSON)  # course.SiteFindings (reports)
    course: Mapped[str | None] = mapped_column(String(20))
    course_basis: Mapped[str | None] = mapped_column(String(20))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    course_reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FollowupNotification(Base):
    """An overdue notification: built once per follow-up and status change, then sent."""

    __tablename__ = "followup_notifications"
    __table_args__ = (
        UniqueConstraint("followup_id", "version", name="uq_followup_notifications_change"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    followup_id: Mapped[int] = mapped_column(
        ForeignKey("followups.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)  # the follow-up's version after the change
    status: Mapped[str] = mapped_column(String(30))
    control_id: Mapped[str] = mapped_column(String(40), unique=True)
    message: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
