"""The FHIR deliveries' table (its migration: worker/migrations/versions/fhir_1_*)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worker.store_models import Base, UtcDateTime


class FhirDelivery(Base):
    """The delivery of one report's FHIR Bundle: where it stands, and the last answer."""

    __tablename__ = "fhir_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    accession: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
    first_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
