"""The message store's tables (SQLAlchemy 2 declarative models).

Strategy: one row per inbound message, keyed by its dedupe key (sending
application, facility and control id), so every write can be an idempotent
upsert that a Celery retry may repeat. Annotations, flags and delivery attempts
hang off the same key rather than a foreign key to the message row, because the
service may record them in any order. Pages address a report by `public_id`, an
opaque random id, so no accession or patient identifier ever appears in a URL.
The Alembic migrations in `worker/migrations/versions/` create exactly these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime (as SQLite gives them back) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InboundMessage(Base):
    """An HL7 message as received, with the ACK code it was answered with."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    control_id: Mapped[str] = mapped_column(String(200))
    sending_application: Mapped[str] = mapped_column(String(200))
    sending_facility: Mapped[str] = mapped_column(String(200))
    message_type: Mapped[str] = mapped_column(String(40))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    ack_code: Mapped[str] = mapped_column(String(4))
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    last_received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReportAnnotation(Base):
    """The annotator's result for one message, its result message, and its review."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_worklist", "priority_rank", "annotated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    accession: Mapped[str] = mapped_column(String(200))
    procedure: Mapped[str | None] = mapped_column(String(400))
    bme: Mapped[str] = mapped_column(String(20))
    # 0 without flags; nlp.model.PRIORITY_RANK otherwise, so ORDER BY gives urgent first.
    priority_rank: Mapped[int] = mapped_column(Integer)
    annotation: Mapped[dict] = mapped_column(JSON)
    evidence: Mapped[dict | None] = mapped_column(JSON)
    report_text: Mapped[str | None] = mapped_column(Text)
    result_control_id: Mapped[str | None] = mapped_column(String(200))
    result_message: Mapped[bytes | None] = mapped_column(LargeBinary)
    annotated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    flags: Mapped[list[Flag]] = relationship(
        back_populates="annotation", cascade="all, delete-orphan", lazy="selectin"
    )


class Flag(Base):
    """One flag of an annotation, in its own table so the worklist can filter by code."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(60), index=True)
    priority: Mapped[str] = mapped_column(String(20))

    annotation: Mapped[ReportAnnotation] = relationship(back_populates="flags")


class DeliveryAttempt(Base):
    """One attempt to deliver a result message, and what the destination said."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        UniqueConstraint(
            "dedupe_key", "result_control_id", "attempt", name="uq_delivery_attempts_attempt"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), index=True)
    result_control_id: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
