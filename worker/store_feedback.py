"""Report versions, reviews and the feedback they give, in the message store.

Strategy: `report_details` ties each message to its report (sending facility and
accession), so a preliminary, final, corrected report and an addendum are
versions of one worklist row; the newest received version is the row. A
review is stored against the version it was made on, with the reviewer and the
time, and also marks that version reviewed (`annotations.reviewed_*`, which
status and /metrics count). Gold labels for `radflag feedback export` come from
the newest review of the newest reviewed version of each report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from feedback.labels import Review, Verdict, gold_label
from feedback.quality import FlagVerdict, QualityReport, summarise
from hl7.errors import TransientError
from hl7.model import Report
from hl7.order import OrderDetails, order_details
from worker.store_models import ReportAnnotation, as_utc
from worker.store_models_accounts import AuditEvent, ReportDetails
from worker.store_models_accounts import Review as ReviewRow
from worker.store_unit import in_unit, insert_if_new, write_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredReview:
    at: datetime
    reviewer: str
    review: Review
    note: str | None = None


@dataclass(frozen=True)
class Version:
    """One version of a report, oldest first in a history."""

    public_id: str
    result_status: str | None
    received_at: datetime
    annotated_at: datetime
    bme: str
    flags: tuple[str, ...]
    reviews: tuple[StoredReview, ...]


def report_key(sending_facility: str, accession: str) -> str:
    """What every version of one report shares."""
    return f"{sending_facility}|{accession}"[:420]


def _review_of(row: ReviewRow) -> Review:
    verdicts = {
        code: Verdict(bool(v.get("agree")), v.get("reason")) for code, v in row.verdicts.items()
    }
    sites = None if row.sites is None else tuple((s[0], s[1]) for s in row.sites)
    etiology = None if row.etiology is None else tuple(row.etiology)
    return Review(verdicts, row.bme, sites, etiology, bool(row.missed))


class FeedbackStore:
    """Report details, versions and reviews over the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_details(
        self,
        *,
        dedupe_key: str,
        key: str,
        received_at: datetime,
        patient_id: str | None,
        details: OrderDetails,
        language: str | None,
    ) -> None:
        """Record (or replace) the patient and exam details of one message."""
        values = {
            "report_key": key, "received_at": as_utc(received_at),
            "patient_id": patient_id or None, "patient_name": details.patient_name,
            "birth_date": details.birth_date, "sex": details.sex,
            "exam_time": details.exam_time, "report_time": details.report_time,
            "result_status": details.result_status, "language": language,
        }  # fmt: skip
        for attempt in (1, 2):
            try:
                with write_session(self._sessions) as session:
                    row_values = {"dedupe_key": dedupe_key, **values}
                    if insert_if_new(dedupe_key, ReportDetails, row_values):
                        return
                    row = session.scalar(select(ReportDetails).filter_by(dedupe_key=dedupe_key))
                    if row is None:
                        row = ReportDetails(dedupe_key=dedupe_key)
                        session.add(row)
                    for name, value in values.items():
                        setattr(row, name, value)
                return
            except IntegrityError:  # a concurrent first insert: update theirs
                if attempt == 2 or in_unit():
                    raise
            except OperationalError as e:
                raise TransientError(f"message store unavailable: {e.orig!r}") from e

    def record_review(
        self,
        public_id: str,
        *,
        reviewer: str,
        review: Review,
        at: datetime,
        note: str | None = None,
    ) -> bool:
        """Store a review of one version and audit it; False when there is no such report."""
        at = as_utc(at)
        with self._sessions.begin() as session:
            annotation = session.scalar(select(ReportAnnotation).filter_by(public_id=public_id))
            if annotation is None:
                return False
            session.add(
                ReviewRow(
                    annotation_id=annotation.id,
                    reviewer=reviewer,
                    at=at,
                    verdicts=review.to_json(),
                    bme=review.bme,
                    sites=None if review.sites is None else [list(s) for s in review.sites],
                    etiology=None if review.etiology is None else list(review.etiology),
                    missed=review.missed,
                    note=note,
                )
            )
            annotation.reviewed_by = reviewer
            annotation.reviewed_at = at
            disagreed = sorted(c for c, v in review.verdicts.items() if not v.agree)
            session.add(
                AuditEvent(
                    at=at,
                    user=reviewer,
                    action="review",
                    target=public_id,
                    detail={
                        "disagree": disagreed,
                        "corrected": review.corrected,
                        "missed": review.missed,
                    },
                )
            )
        log.info("report reviewed accession=%s", annotation.accession)
        return True

    def _reviews(self, session: Session, annotation_id: int) -> tuple[StoredReview, ...]:
        rows = session.scalars(
            select(ReviewRow)
            .where(ReviewRow.annotation_id == annotation_id)
            .order_by(ReviewRow.at, ReviewRow.id)
        )
        return tuple(StoredReview(as_utc(r.at), r.reviewer, _review_of(r), r.note) for r in rows)

    def versions(self, public_id: str) -> list[Version]:
        """Every version of the report that `public_id` is a version of, oldest first."""
        with self._sessions() as session:
            found = session.execute(
                select(ReportDetails.report_key)
                .join(ReportAnnotation, ReportAnnotation.dedupe_key == ReportDetails.dedupe_key)
                .where(ReportAnnotation.public_id == public_id)
            ).first()
            query = select(ReportAnnotation, ReportDetails).outerjoin(
                ReportDetails, ReportDetails.dedupe_key == ReportAnnotation.dedupe_key
            )
            if found is None:
                query = query.where(ReportAnnotation.public_id == public_id)
            else:
                query = query.where(ReportDetails.report_key == found[0])
            rows = session.execute(query).all()
            out = [
                Version(
                    public_id=a.public_id,
                    result_status=d.result_status if d else None,
                    received_at=as_utc(d.received_at if d else a.annotated_at),
                    annotated_at=as_utc(a.annotated_at),
                    bme=a.bme,
                    flags=tuple(sorted(f.code for f in a.flags)),
                    reviews=self._reviews(session, a.id),
                )
                for a, d in rows
            ]
        return sorted(out, key=lambda v: (v.received_at, v.annotated_at))

    def reviews(self, public_id: str) -> tuple[StoredReview, ...]:
        """The reviews of one version, oldest first."""
        with self._sessions() as session:
            annotation_id = session.scalar(
                select(ReportAnnotation.id).where(ReportAnnotation.public_id == public_id)
            )
            return () if annotation_id is None else self._reviews(session, annotation_id)

    def _latest_reviews(
        self, session: Session, since: datetime | None
    ) -> Iterator[tuple[ReportAnnotation, ReviewRow, ReportDetails | None]]:
        """(version, its newest review, details) for every reviewed version."""
        query = (
            select(ReviewRow, ReportAnnotation, ReportDetails)
            .join(ReportAnnotation, ReportAnnotation.id == ReviewRow.annotation_id)
            .outerjoin(ReportDetails, ReportDetails.dedupe_key == ReportAnnotation.dedupe_key)
            .order_by(ReviewRow.at, ReviewRow.id)
        )
        newest: dict[int, tuple[ReportAnnotation, ReviewRow, ReportDetails | None]] = {}
        for review, annotation, details in session.execute(query):
            newest[annotation.id] = (annotation, review, details)
        for annotation, review, details in newest.values():
            if since is None or as_utc(review.at) >= since:
                yield annotation, review, details

    def gold_labels(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Reviewed reports as corpus lines (`{"id", "text", "procedure", "gold"}`).

        One line per report: its newest reviewed version, labelled by that version's
        newest review; versions without stored text are left out.
        """
        with self._sessions() as session:
            per_report: dict[str, tuple[datetime, dict[str, Any]]] = {}
            for annotation, review, details in self._latest_reviews(session, since):
                if annotation.report_text is None:
                    continue
                line: dict[str, Any] = {"id": annotation.public_id, "text": annotation.report_text}
                if annotation.procedure:
                    line["procedure"] = annotation.procedure
                line["gold"] = gold_label(annotation.annotation, _review_of(review))
                key = details.report_key if details else annotation.dedupe_key
                received = as_utc(details.received_at if details else annotation.annotated_at)
                if key not in per_report or per_report[key][0] <= received:
                    per_report[key] = (received, line)
        return [line for _, line in sorted(per_report.values(), key=lambda item: item[0])]

    def quality(self) -> QualityReport:
        """Agreement per flag code and disagreement reasons from every version's newest review."""
        verdicts: list[FlagVerdict] = []
        missed: list[tuple[str, str]] = []
        with self._sessions() as session:
            for annotation, review, details in self._latest_reviews(session, None):
                month = as_utc(review.at).strftime("%Y-%m")
                language = str(
                    (details.language if details else None)
                    or annotation.annotation.get("language")
                    or "?"
                )
                for code, v in review.verdicts.items():
                    verdicts.append(
                        FlagVerdict(month, language, code, bool(v.get("agree")), v.get("reason"))
                    )
                if review.missed:
                    missed.append((month, language))
        return summarise(verdicts, missed)


def parse_since(value: str) -> datetime:
    """A YYYY-MM-DD (or ISO datetime) as an aware UTC datetime; ValueError otherwise."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return as_utc(datetime.fromisoformat(value))
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


_feedback_stores: dict[int, FeedbackStore] = {}


def feedback_of(store: Any) -> FeedbackStore:
    """The FeedbackStore over a Store's engine (one per engine)."""
    engine = store.engine
    found = _feedback_stores.get(id(engine))
    if found is None or found.engine is not engine:
        found = _feedback_stores[id(engine)] = FeedbackStore(engine)
    return found


def record_report_details(
    store: Any, report: Report, *, dedupe_key: str, received_at: datetime, language: str
) -> None:
    """Keep what the worklist shows of a report's patient and exam, and whose version it is."""
    feedback_of(store).record_details(
        dedupe_key=dedupe_key,
        key=report_key(report.header.sending_facility, report.accession),
        received_at=received_at,
        patient_id=report.patient_id,
        details=order_details(report),
        language=language,
    )
