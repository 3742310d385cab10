"""Read side of the message store: the worklist, a report view, counts for status and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from nlp.model import PRIORITY_RANK
from worker.store_models import DeliveryAttempt, Flag, InboundMessage, ReportAnnotation

# Outcomes of a delivery attempt that are not an error worth listing in status.
DELIVERED_OUTCOMES = frozenset({"delivered", "AA", "CA", "accepted"})


@dataclass(frozen=True)
class WorklistFilter:
    """What the radiologist narrowed the worklist to; None means any."""

    flag: str | None = None
    priority: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    reviewed: bool | None = None


@dataclass(frozen=True)
class WorklistRow:
    """One flagged report in the worklist."""

    public_id: str
    accession: str
    procedure: str | None
    bme: str
    top_priority: str
    flags: tuple[tuple[str, str], ...]  # (code, priority), highest priority first
    sites: tuple[tuple[str, str | None], ...]  # (bone, laterality)
    received_at: datetime
    sending_facility: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class ReportView:
    """Everything the report page shows about one annotated message."""

    row: WorklistRow
    annotation: dict[str, Any]
    evidence: dict[str, list[str]]
    report_text: str | None
    control_id: str | None
    ack_code: str | None
    result_control_id: str | None
    deliveries: tuple[tuple[int, str, str, datetime], ...]  # attempt, outcome, detail, at
    raw: bytes | None = None  # the inbound message, when the report text was not stored


@dataclass(frozen=True)
class StoreCounts:
    """What the store holds, grouped for `radflag status` and /metrics."""

    messages: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, ack) -> n
    deliveries: dict[str, int] = field(default_factory=dict)  # outcome -> n
    flags: dict[str, int] = field(default_factory=dict)  # code -> n
    annotations: int = 0
    unreviewed_flagged: int = 0


@dataclass(frozen=True)
class StoredError:
    """A recent failure: a rejected message or a failed delivery attempt."""

    at: datetime
    kind: str  # "inbound" or "delivery"
    control_id: str
    text: str


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class StoreQueries:
    """Queries over the store's tables; `Store` adds the writes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._read_sessions = sessions

    def _worklist_query(self, flt: WorklistFilter) -> Select[Any]:
        query = (
            select(ReportAnnotation, InboundMessage.received_at, InboundMessage.sending_facility)
            .outerjoin(InboundMessage, InboundMessage.dedupe_key == ReportAnnotation.dedupe_key)
            .where(ReportAnnotation.priority_rank > 0)
        )
        if flt.flag:
            query = query.where(
                ReportAnnotation.id.in_(select(Flag.annotation_id).where(Flag.code == flt.flag))
            )
        if flt.priority:
            query = query.where(
                ReportAnnotation.priority_rank == PRIORITY_RANK.get(flt.priority, -1)
            )
        if flt.day_from:
            query = query.where(ReportAnnotation.annotated_at >= _day_start(flt.day_from))
        if flt.day_to:
            day_after = _day_start(flt.day_to) + timedelta(days=1)
            query = query.where(ReportAnnotation.annotated_at < day_after)
        if flt.reviewed is True:
            query = query.where(ReportAnnotation.reviewed_at.is_not(None))
        elif flt.reviewed is False:
            query = query.where(ReportAnnotation.reviewed_at.is_(None))
        return query

    def worklist(
        self, flt: WorklistFilter | None = None, *, limit: int = 200, offset: int = 0
    ) -> tuple[list[WorklistRow], int]:
        """Flagged reports, highest priority then newest first, and how many match in all."""
        query = self._worklist_query(flt or WorklistFilter())
        with self._read_sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            ordered = query.order_by(
                ReportAnnotation.priority_rank.desc(),
                ReportAnnotation.annotated_at.desc(),
                ReportAnnotation.id.desc(),
            )
            rows = session.execute(ordered.limit(limit).offset(offset)).all()
            return [_row(a, received, facility) for a, received, facility in rows], total

    def report(self, public_id: str) -> ReportView | None:
        """The report page's content for the opaque id, or None."""
        with self._read_sessions() as session:
            found = session.execute(
                select(ReportAnnotation, InboundMessage)
                .outerjoin(InboundMessage, InboundMessage.dedupe_key == ReportAnnotation.dedupe_key)
                .where(ReportAnnotation.public_id == public_id)
            ).first()
            if found is None:
                return None
            annotation, message = found
            deliveries = session.execute(
                select(
                    DeliveryAttempt.attempt,
                    DeliveryAttempt.outcome,
                    DeliveryAttempt.detail,
                    DeliveryAttempt.at,
                )
                .where(DeliveryAttempt.dedupe_key == annotation.dedupe_key)
                .order_by(DeliveryAttempt.at, DeliveryAttempt.attempt)
            ).all()
            received = message.received_at if message else None
            facility = message.sending_facility if message else None
            return ReportView(
                row=_row(annotation, received, facility),
                annotation=annotation.annotation,
                evidence=annotation.evidence or {},
                report_text=annotation.report_text,
                control_id=message.control_id if message else None,
                ack_code=message.ack_code if message else None,
                result_control_id=annotation.result_control_id,
                deliveries=tuple((a, o, d, _aware(t)) for a, o, d, t in deliveries),
                raw=message.raw if message and annotation.report_text is None else None,
            )

    def flag_codes(self) -> list[str]:
        """Distinct flag codes in the store, for the worklist's filter."""
        with self._read_sessions() as session:
            return sorted(session.scalars(select(Flag.code).distinct()).all())

    def counts(self) -> StoreCounts:
        """Messages by type and ACK, deliveries by outcome, flags by code."""
        with self._read_sessions() as session:
            messages = session.execute(
                select(InboundMessage.message_type, InboundMessage.ack_code, func.count()).group_by(
                    InboundMessage.message_type, InboundMessage.ack_code
                )
            ).all()
            deliveries = session.execute(
                select(DeliveryAttempt.outcome, func.count()).group_by(DeliveryAttempt.outcome)
            ).all()
            flags = session.execute(select(Flag.code, func.count()).group_by(Flag.code)).all()
            annotations = session.scalar(select(func.count()).select_from(ReportAnnotation))
        return StoreCounts(
            messages={(t, a): n for t, a, n in messages},
            deliveries={o: n for o, n in deliveries},
            flags={c: n for c, n in flags},
            annotations=annotations or 0,
            unreviewed_flagged=self.unreviewed_count(),
        )

    def unreviewed_count(self) -> int:
        """Flagged reports that no one has marked reviewed."""
        with self._read_sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(ReportAnnotation)
                    .where(
                        ReportAnnotation.priority_rank > 0, ReportAnnotation.reviewed_at.is_(None)
                    )
                )
                or 0
            )

    def last_errors(self, limit: int = 10) -> list[StoredError]:
        """The newest rejected inbound messages and failed delivery attempts, newest first."""
        with self._read_sessions() as session:
            inbound = session.execute(
                select(
                    InboundMessage.last_received_at, InboundMessage.control_id, InboundMessage.error
                )
                .where(InboundMessage.error.is_not(None))
                .order_by(InboundMessage.last_received_at.desc())
                .limit(limit)
            ).all()
            failed = session.execute(
                select(
                    DeliveryAttempt.at,
                    DeliveryAttempt.result_control_id,
                    DeliveryAttempt.outcome,
                    DeliveryAttempt.detail,
                )
                .where(DeliveryAttempt.outcome.not_in(DELIVERED_OUTCOMES))
                .order_by(DeliveryAttempt.at.desc())
                .limit(limit)
            ).all()
        errors = [StoredError(_aware(at), "inbound", cid, text or "") for at, cid, text in inbound]
        errors += [
            StoredError(_aware(at), "delivery", cid, f"{outcome}: {detail}")
            for at, cid, outcome, detail in failed
        ]
        return sorted(errors, key=lambda e: e.at, reverse=True)[:limit]

    def message_raw(self, dedupe_key: str) -> tuple[str, bytes] | None:
        """The ACK code and raw bytes of a stored inbound message, or None."""
        with self._read_sessions() as session:
            found = session.execute(
                select(InboundMessage.ack_code, InboundMessage.raw).where(
                    InboundMessage.dedupe_key == dedupe_key
                )
            ).first()
        return None if found is None else (found[0], found[1])


def _row(
    annotation: ReportAnnotation, received_at: datetime | None, facility: str | None
) -> WorklistRow:
    flags = sorted(
        ((f.code, f.priority) for f in annotation.flags),
        key=lambda cp: (-PRIORITY_RANK.get(cp[1], 0), cp[0]),
    )
    top = flags[0][1] if flags else ""
    sites = tuple((s["bone"], s.get("laterality")) for s in annotation.annotation.get("sites", []))
    return WorklistRow(
        public_id=annotation.public_id,
        accession=annotation.accession,
        procedure=annotation.procedure,
        bme=annotation.bme,
        top_priority=top,
        flags=tuple(flags),
        sites=sites,
        received_at=_aware(received_at or annotation.annotated_at),
        sending_facility=facility,
        reviewed_by=annotation.reviewed_by,
        reviewed_at=_aware(annotation.reviewed_at) if annotation.reviewed_at else None,
    )
