"""Read side of the message store: the worklist, a report view, counts for status and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from nlp.model import PRIORITY_RANK
from worker.store_models import DeliveryAttempt, Flag, InboundMessage, ReportAnnotation, as_utc
from worker.store_models_accounts import ReportDetails

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
    search: str | None = None  # accession, patient name or patient id (part of)
    sort: str = "priority"  # one of SORT_KEYS
    descending: bool = True


# Worklist columns it can be sorted by. "priority" (the default) is urgent first, then newest.
SORT_KEYS = (
    "priority", "patient", "age", "sex", "flags", "bme", "sites", "procedure", "accession",
    "exam", "received", "reviewed",
)  # fmt: skip
_PYTHON_SORTED = 2000  # sites are sorted in Python, over at most this many matches


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
    # Patient and exam (None for messages stored before report details were kept).
    patient_name: str | None = None
    patient_id: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    exam_time: datetime | None = None
    report_time: datetime | None = None
    result_status: str | None = None
    versions: int = 1


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


class StoreQueries:
    """Queries over the store's tables; `Store` adds the writes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._read_sessions = sessions

    def _worklist_query(self, flt: WorklistFilter) -> Select[Any]:
        later, later_annotation = aliased(ReportDetails), aliased(ReportAnnotation)
        # A report's row is its newest annotated version (report versions share report_key).
        newer_version = exists().where(
            later.report_key == ReportDetails.report_key,
            later_annotation.dedupe_key == later.dedupe_key,
            or_(
                later.received_at > ReportDetails.received_at,
                and_(later.received_at == ReportDetails.received_at, later.id > ReportDetails.id),
            ),
        )
        versions = (
            select(func.count())
            .select_from(later)
            .join(later_annotation, later_annotation.dedupe_key == later.dedupe_key)
            .where(later.report_key == ReportDetails.report_key)
            .scalar_subquery()
        )
        query = (
            select(
                ReportAnnotation,
                InboundMessage.received_at,
                InboundMessage.sending_facility,
                ReportDetails,
                versions,
            )
            .outerjoin(InboundMessage, InboundMessage.dedupe_key == ReportAnnotation.dedupe_key)
            .outerjoin(ReportDetails, ReportDetails.dedupe_key == ReportAnnotation.dedupe_key)
            .where(ReportAnnotation.priority_rank > 0, ~newer_version)
        )
        if flt.search and flt.search.strip():
            term = flt.search.strip().lower()[:200]
            query = query.where(
                or_(
                    func.lower(ReportAnnotation.accession).contains(term, autoescape=True),
                    func.lower(ReportDetails.patient_name).contains(term, autoescape=True),
                    func.lower(ReportDetails.patient_id).contains(term, autoescape=True),
                )
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
        """Flagged reports (newest version of each), sorted, and how many match in all.

        The default order is highest priority, then newest first.
        """
        flt = flt or WorklistFilter()
        query = self._worklist_query(flt)
        with self._read_sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            if flt.sort == "sites":
                found = session.execute(query.limit(_PYTHON_SORTED)).all()
                rows = [_row(a, r, f, d, n) for a, r, f, d, n in found]
                rows.sort(key=lambda row: [bone for bone, _ in row.sites] or ["~"])
                if flt.descending:
                    rows.reverse()
                return rows[offset : offset + limit], total
            ordered = query.order_by(*_order(flt.sort, flt.descending))
            found = session.execute(ordered.limit(limit).offset(offset)).all()
            return [_row(a, r, f, d, n) for a, r, f, d, n in found], total

    def worklist_state(self) -> tuple[int, int, str | None]:
        """(flagged rows, unreviewed, newest annotation time): changes when the list does."""
        with self._read_sessions() as session:
            newest = session.scalar(
                select(func.max(ReportAnnotation.annotated_at)).where(
                    ReportAnnotation.priority_rank > 0
                )
            )
            reviewed = session.scalar(select(func.max(ReportAnnotation.reviewed_at)))
            count = session.scalar(
                select(func.count())
                .select_from(ReportAnnotation)
                .where(ReportAnnotation.priority_rank > 0)
            )
        stamp = f"{newest}|{reviewed}" if newest or reviewed else None
        return count or 0, self.unreviewed_count(), stamp

    def report(self, public_id: str) -> ReportView | None:
        """The report page's content for the opaque id, or None."""
        with self._read_sessions() as session:
            found = session.execute(
                select(ReportAnnotation, InboundMessage, ReportDetails)
                .outerjoin(InboundMessage, InboundMessage.dedupe_key == ReportAnnotation.dedupe_key)
                .outerjoin(ReportDetails, ReportDetails.dedupe_key == ReportAnnotation.dedupe_key)
                .where(ReportAnnotation.public_id == public_id)
            ).first()
            if found is None:
                return None
            annotation, message, details = found
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
                row=_row(annotation, received, facility, details),
                annotation=annotation.annotation,
                evidence=annotation.evidence or {},
                report_text=annotation.report_text,
                control_id=message.control_id if message else None,
                ack_code=message.ack_code if message else None,
                result_control_id=annotation.result_control_id,
                deliveries=tuple((a, o, d, as_utc(t)) for a, o, d, t in deliveries),
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
        """Flagged reports (newest version of each) that no one has marked reviewed."""
        query = self._worklist_query(WorklistFilter(reviewed=False))
        with self._read_sessions() as session:
            return session.scalar(select(func.count()).select_from(query.subquery())) or 0

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
        errors = [StoredError(as_utc(at), "inbound", cid, text or "") for at, cid, text in inbound]
        errors += [
            StoredError(as_utc(at), "delivery", cid, f"{outcome}: {detail}")
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


def _order(sort: str, descending: bool) -> list[Any]:
    """ORDER BY for a worklist column; ties: priority, then newest."""
    default = [
        ReportAnnotation.priority_rank.desc(),
        ReportAnnotation.annotated_at.desc(),
        ReportAnnotation.id.desc(),
    ]
    column: Any = {
        "patient": ReportDetails.patient_name,
        "age": ReportDetails.birth_date,
        "sex": ReportDetails.sex,
        "flags": select(func.count())
        .select_from(Flag)
        .where(Flag.annotation_id == ReportAnnotation.id)
        .scalar_subquery(),
        "bme": ReportAnnotation.bme,
        "procedure": ReportAnnotation.procedure,
        "accession": ReportAnnotation.accession,
        "exam": ReportDetails.exam_time,
        "received": func.coalesce(ReportDetails.received_at, ReportAnnotation.annotated_at),
        "reviewed": ReportAnnotation.reviewed_at,
    }.get(sort)
    if column is None:  # "priority", or anything unknown
        if not descending:
            return [ReportAnnotation.priority_rank.asc(), *default[1:]]
        return default
    if sort == "age":  # older patients have earlier birth dates
        descending = not descending
    first = column.desc().nulls_last() if descending else column.asc().nulls_last()
    return [first, *default]


def _row(
    annotation: ReportAnnotation,
    received_at: datetime | None,
    facility: str | None,
    details: ReportDetails | None = None,
    versions: int | None = None,
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
        received_at=as_utc(received_at or annotation.annotated_at),
        sending_facility=facility,
        reviewed_by=annotation.reviewed_by,
        reviewed_at=as_utc(annotation.reviewed_at) if annotation.reviewed_at else None,
        patient_name=details.patient_name if details else None,
        patient_id=details.patient_id if details else None,
        birth_date=details.birth_date if details else None,
        sex=details.sex if details else None,
        exam_time=as_utc(details.exam_time) if details and details.exam_time else None,
        report_time=as_utc(details.report_time) if details and details.report_time else None,
        result_status=details.result_status if details else None,
        versions=versions or 1,
    )
