"""Tables for people and what they do: accounts, web secrets, login failures, audit, reviews.

Strategy: kept apart from the message tables (`worker/store_models.py`) and
created by their own migration. `report_details` holds what the worklist shows
about a patient and an exam, and which report (accession at a sending
facility) a message is a version of; it is keyed by the message's dedupe key
like the annotation. A review is its own row, tied to the annotation (one
version of a report) it was made on, so re-annotating a version replaces its
flags and leaves every earlier review in place.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worker.store_models import Base, UtcDateTime


class User(Base):
    """A person with a login: a radiologist, an operator or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by a password change or disable: every older session cookie stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebSecret(Base):
    """A random key the web processes share (session signing, CSRF), created once."""

    __tablename__ = "web_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginFailure(Base):
    """One failed login, by a key (user name, client address); the rate limit counts them."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class AuditEvent(Base):
    """Who did what, when: logins, reviews, feedback, account changes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    user: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)


class ReportDetails(Base):
    """Patient and exam details of one message, and the report it is a version of."""

    __tablename__ = "report_details"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    # Sending facility and accession: every version of one report shares it.
    report_key: Mapped[str] = mapped_column(String(420), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    patient_name: Mapped[str | None] = mapped_column(String(200))
    patient_id: Mapped[str | None] = mapped_column(String(200), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(4))
    exam_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    report_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result_status: Mapped[str | None] = mapped_column(String(4))
    language: Mapped[str | None] = mapped_column(String(8))


class Review(Base):
    """One review of one version of a report: verdicts per flag and the corrected label."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # {flag code: {"agree": bool, "reason": str | None}}
    verdicts: Mapped[dict] = mapped_column(JSON)
    # The radiologist's label where it differs from radflag's; None: radflag's stands.
    bme: Mapped[str | None] = mapped_column(String(20))
    sites: Mapped[list | None] = mapped_column(JSON)
    etiology: Mapped[list | None] = mapped_column(JSON)
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
