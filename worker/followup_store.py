"""The follow-up store: recommendations, their status and audit, exams, notifications.

Strategy: the pure decisions come from `followup.matching` and
`followup.status`; this module loads the candidates (by patient key, one
indexed lookup), applies each decision in one transaction with its audit entry,
and keeps the patient's exams for the timeline and the course. Every write is
repeatable: a rerun of a task finds its exam row and its recommendations by the
message's dedupe key and changes nothing twice. Two writers of one follow-up
cannot both win (the row's version counter); the loser gets TransientError and
its task retries. Identifiers and report text never reach the log.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from followup.course import SiteFindings
from followup.matching import Candidate, matches
from followup.model import (
    CLOSED_STATUSES,
    COMPLETED,
    OPEN,
    OVERDUE,
    SCHEDULED,
    ClinicalEvent,
    Course,
    Recommendation,
)
from followup.regions import sides_compatible
from followup.status import Decision, Tracked, apply_clock, apply_event, apply_person, due_window
from hl7.errors import TransientError
from worker.followup_models import (
    FollowupAudit,
    FollowupExam,
    FollowupNotification,
    FollowupPatientKey,
    FollowupRow,
)
from worker.store_models import as_utc
from worker.store_unit import Child, in_unit, insert_if_new, unit_memo, write_session

log = logging.getLogger(__name__)

ACTIVE_STATUSES = (OPEN, SCHEDULED, OVERDUE)
CHECK_BATCH = 500  # follow-ups moved per due check; the rest wait for the next tick
ACTOR_RULES = "radflag"  # a message matched by the rules
ACTOR_CLOCK = "radflag-beat"  # the due check
DUE_SOON = timedelta(days=7)


@dataclass(frozen=True)
class ExamRecord:
    """An order, appointment or report to keep on the patient's timeline."""

    dedupe_key: str
    event: ClinicalEvent
    received_at: datetime
    findings: SiteFindings | None = None
    course: Course | None = None


@dataclass(frozen=True)
class NewFollowup:
    """A recommendation of a report, with what the store keeps beside it."""

    recommendation: Recommendation
    position: int
    dedupe_key: str
    control_id: str
    accession: str
    procedure: str | None
    patient: str
    patient_keys: tuple[str, ...]
    sending_application: str
    sending_facility: str
    order_segments: tuple[str, ...]
    report_at: datetime

    @property
    def window(self) -> tuple[datetime, datetime]:
        """When it is due, from and to, as stored (counted from the report's time, in UTC)."""
        return due_window(as_utc(self.report_at), self.recommendation.interval)


@dataclass(frozen=True)
class PendingNotification:
    followup_public_id: str
    control_id: str
    message: bytes


@dataclass(frozen=True)
class FollowupView:
    """One follow-up as the page and the CLI show it."""

    public_id: str
    patient: str
    region: str | None
    side: str | None
    modality: str
    urgency: str
    source: str
    text: str
    condition: str | None
    status: str
    adherence: str | None
    report_at: datetime
    due_from: datetime
    due_to: datetime
    status_at: datetime
    accession: str
    bookings: tuple[tuple[str, str | None], ...] = ()
    audit: tuple[tuple[datetime, str | None, str, str, str], ...] = ()  # at, from, to, actor, note

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.public_id, "patient": self.patient, "region": self.region,
            "side": self.side, "modality": self.modality, "urgency": self.urgency,
            "source": self.source, "text": self.text, "condition": self.condition,
            "status": self.status, "adherence": self.adherence,
            "report_at": self.report_at.isoformat(), "due_from": self.due_from.isoformat(),
            "due_to": self.due_to.isoformat(), "status_at": self.status_at.isoformat(),
            "accession": self.accession,
        }  # fmt: skip


@dataclass(frozen=True)
class TimelineExam:
    at: datetime
    kind: str
    action: str
    procedure: str | None
    region: str | None
    side: str | None
    accession: str
    course: str | None
    course_basis: str | None
    escalated: bool
    course_reason: str | None


@dataclass(frozen=True)
class FollowupCounts:
    by_status: dict[str, int] = field(default_factory=dict)
    completed_adherent: int = 0
    completed_late: int = 0

    @property
    def adherence(self) -> float | None:
        """Completed in the window / (completed + overdue); None before anything counts."""
        overdue = self.by_status.get(OVERDUE, 0)
        completed = self.by_status.get(COMPLETED, 0)
        total = completed + overdue
        return self.completed_adherent / total if total else None


_CANDIDATES_MEMO = "followup_candidates"  # patient key -> active follow-ups, per unit
# Whether any follow-up has one of some patient keys (`remember_candidates`), built once.
_ANY_FOLLOWUP = (
    select(FollowupPatientKey.__table__.c.followup_id)
    .where(FollowupPatientKey.__table__.c.key.in_(bindparam("keys", expanding=True)))
    .limit(1)
)

# The earlier reports of some patients at some regions, latest first (`prior_findings_many`
# picks each request's own among them), built once.
_PRIOR_FINDINGS = (
    select(
        FollowupExam.patient_key, FollowupExam.region, FollowupExam.at, FollowupExam.dedupe_key,
        FollowupExam.side, FollowupExam.findings,
    )
    .where(
        FollowupExam.patient_key.in_(bindparam("keys", expanding=True)),
        FollowupExam.kind == "report",
        FollowupExam.region.in_(bindparam("regions", expanding=True)),
        FollowupExam.at < bindparam("before"),
        FollowupExam.findings.is_not(None),
    )
    .order_by(FollowupExam.at.desc())
)  # fmt: skip
# How many of a patient's latest earlier reports at the site are looked at for a side.
PRIOR_CANDIDATES = 20


@dataclass(frozen=True)
class PriorRequest:
    """Whose earlier findings to read: the patient's keys, the site, before when, not which."""

    patient_keys: tuple[str, ...]
    region: str | None
    side: str | None
    before: datetime
    exclude_dedupe_key: str


def _prior_of(request: PriorRequest, rows: Sequence[Row[Any]]) -> SiteFindings | None:
    """The request's prior findings among `rows` (latest first), or None."""
    if not request.patient_keys or request.region is None:
        return None
    keys, before = set(request.patient_keys), as_utc(request.before)
    candidates = 0
    for patient_key, region, at, dedupe_key, row_side, findings in rows:
        if (
            patient_key not in keys
            or region != request.region
            or as_utc(at) >= before
            or dedupe_key == request.exclude_dedupe_key
        ):
            continue
        if sides_compatible(request.side, row_side) or sides_compatible(row_side, request.side):
            return SiteFindings.from_dict(findings or {})
        candidates += 1
        if candidates == PRIOR_CANDIDATES:
            return None
    return None


def notification_control_id(public_id: str, version: int) -> str:
    """MSH-10 of a notification: the same for the same follow-up and change (20 chars)."""
    return "FU" + hashlib.sha1(f"{public_id}|{version}".encode()).hexdigest()[:18].upper()


def _tracked(row: FollowupRow) -> Tracked:
    bookings = tuple(
        (ref, datetime.fromisoformat(at) if at else None) for ref, at in (row.bookings or [])
    )
    return Tracked(
        status=row.status,
        report_at=as_utc(row.report_at),
        due_from=as_utc(row.due_from),
        due_to=as_utc(row.due_to),
        bookings=bookings,
    )


def _candidate(row: FollowupRow) -> Candidate:
    return Candidate(
        patient_keys=frozenset(row.patient_keys),
        region=row.region,
        side=row.side,
        modality=row.modality,
        report_at=as_utc(row.report_at),
        due_to=as_utc(row.due_to),
        accession=row.accession,
    )


class FollowupStore:
    """Follow-up reads and writes over the message store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with write_session(self._sessions) as session:
                yield session
        except StaleDataError as e:
            raise TransientError("follow-up changed by another writer; retry") from e
        except OperationalError as e:
            raise TransientError(f"message store unavailable: {e.orig!r}") from e

    # --- writes -----------------------------------------------------------------------

    def record_report(
        self, exam: ExamRecord, followups: list[NewFollowup], *, now: datetime
    ) -> list[str]:
        """Keep a report on the timeline, complete what it matches, add its recommendations.

        Returns the public ids of the follow-ups it completed.
        """
        for attempt in (1, 2):
            try:
                with self._transaction() as session:
                    self._upsert_exam(session, exam)
                    completed = self._match(session, exam, now)
                    for new in followups:
                        self._add_followup(session, new, now)
                return completed
            except IntegrityError:  # a concurrent first insert of the same rows
                if attempt == 2 or in_unit():
                    raise
        return []

    def record_event(self, exam: ExamRecord, *, now: datetime) -> list[str]:
        """Keep an order or appointment; book, reschedule or cancel what it matches."""
        for attempt in (1, 2):
            try:
                with self._transaction() as session:
                    self._upsert_exam(session, exam)
                    return self._match(session, exam, now)
            except IntegrityError:
                if attempt == 2:
                    raise
        return []

    def check_due(
        self,
        now: datetime,
        notification: Callable[[FollowupRow, str], bytes] | None,
    ) -> int:
        """Move follow-ups past their window to overdue; build one notification per change.

        `notification(row, control_id)` builds the message (None: no destination,
        no notification). Returns how many became overdue (at most CHECK_BATCH).
        """
        moved = 0
        with self._transaction() as session:
            rows = session.scalars(
                select(FollowupRow)
                .where(FollowupRow.status.in_((OPEN, SCHEDULED)), FollowupRow.due_to < now)
                .order_by(FollowupRow.due_to)
                .limit(CHECK_BATCH)
            ).all()
            for row in rows:
                decision = apply_clock(_tracked(row), now)
                if not decision.changed:
                    continue
                self._apply(session, row, decision, ACTOR_CLOCK, "", now)
                session.flush()  # the version counter moves: the notification's key
                moved += 1
                if notification is not None:
                    control_id = notification_control_id(row.public_id, row.version)
                    session.add(
                        FollowupNotification(
                            followup_id=row.id, version=row.version, status=row.status,
                            control_id=control_id, message=notification(row, control_id),
                            created_at=now,
                        )
                    )  # fmt: skip
        if moved:
            log.info("follow-ups overdue: %d", moved)
        return moved

    def pending_notifications(self, limit: int = CHECK_BATCH) -> list[PendingNotification]:
        """Notifications built but not yet handed to delivery (oldest first)."""
        with self._sessions() as session:
            rows = session.execute(
                select(FollowupNotification, FollowupRow.public_id)
                .join(FollowupRow, FollowupRow.id == FollowupNotification.followup_id)
                .where(FollowupNotification.published_at.is_(None))
                .order_by(FollowupNotification.id)
                .limit(limit)
            ).all()
            return [PendingNotification(pid, n.control_id, n.message) for n, pid in rows]

    def mark_published(self, control_id: str, at: datetime) -> None:
        with self._transaction() as session:
            row = session.scalar(select(FollowupNotification).filter_by(control_id=control_id))
            if row is not None and row.published_at is None:
                row.published_at = at

    def set_status(
        self, public_id: str, status: str, reason: str, *, actor: str, at: datetime
    ) -> bool:
        """A person marks a follow-up not needed or completed elsewhere; False if unknown.

        Raises followup.status.StatusError when the model does not allow it.
        """
        with self._transaction() as session:
            row = session.scalar(select(FollowupRow).filter_by(public_id=public_id))
            if row is None:
                return False
            decision = apply_person(_tracked(row), status, reason)
            self._apply(session, row, decision, actor, "", at)
        log.info("follow-up set to %s by a person", status)
        return True

    def _upsert_exam(self, session: Session, exam: ExamRecord) -> None:
        event, course = exam.event, exam.course
        keys = list(event.patient_keys)
        values = {
            "kind": event.kind, "action": event.action,
            "patient_key": keys[0] if keys else "", "patient_keys": keys,
            "reference": event.reference[:400], "accession": event.accession[:200],
            "procedure": (event.procedure or "")[:400] or None,
            "modality": event.modality, "region": event.region, "side": event.side,
            "at": as_utc(event.at),
            "findings": exam.findings.to_dict() if exam.findings else None,
            "course": course.course if course else None,
            "course_basis": course.basis if course else None,
            "escalated": bool(course and course.escalate_osteonecrosis),
            "course_reason": course.reason if course else None,
        }  # fmt: skip
        received_at = as_utc(exam.received_at)
        if insert_if_new(
            exam.dedupe_key, FollowupExam,
            {"dedupe_key": exam.dedupe_key, "received_at": received_at, **values},
        ):  # fmt: skip
            return
        row = session.scalar(select(FollowupExam).filter_by(dedupe_key=exam.dedupe_key))
        if row is None:
            row = FollowupExam(dedupe_key=exam.dedupe_key, received_at=received_at)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)

    def remember_candidates(self, keys: set[str]) -> None:
        """Inside a unit of work: read the active follow-ups of all `keys` once, for its messages.

        A batch's reports each look for the follow-ups of their patient; one query
        for the whole batch replaces one per report (`_candidates` uses it).
        """
        memo = unit_memo()
        if memo is None or not keys:
            return
        by_key: dict[str, list[FollowupRow]] = {key: [] for key in keys}
        # Found by the patients' keys alone, the active ones kept here: with `status IN`
        # in the query, SQLite (no statistics) drove it from the status index, through
        # every active follow-up of the store: 9 ms a batch at 15,500 open ones, growing
        # with the store (docs/throughput.md, sixth pass). A patient has few follow-ups.
        with self._transaction() as session:
            # Most patients have no follow-up yet: a Core look at the keys first, and
            # the rows through the ORM (which later changes them) only for those that do.
            if session.connection().execute(_ANY_FOLLOWUP, {"keys": list(keys)}).first() is None:
                memo[_CANDIDATES_MEMO] = by_key
                return
            found = session.execute(
                select(FollowupPatientKey.key, FollowupRow)
                .join(FollowupRow, FollowupRow.id == FollowupPatientKey.followup_id)
                .where(FollowupPatientKey.key.in_(keys))
            ).all()
        for key, row in found:
            if row.status in ACTIVE_STATUSES:
                by_key[key].append(row)
        memo[_CANDIDATES_MEMO] = by_key

    def _candidates(self, session: Session, keys: tuple[str, ...]) -> list[FollowupRow]:
        if not keys:
            return []
        memo = unit_memo()
        remembered = memo.get(_CANDIDATES_MEMO) if memo is not None else None
        if remembered is not None and all(key in remembered for key in keys):
            rows = {row.id: row for key in keys for row in remembered[key]}
            # A row an earlier report of the batch closed is no longer a candidate.
            return [rows[i] for i in sorted(rows) if rows[i].status in ACTIVE_STATUSES]
        ids = select(FollowupPatientKey.followup_id).where(FollowupPatientKey.key.in_(keys))
        found = session.scalars(
            select(FollowupRow).where(FollowupRow.id.in_(ids)).order_by(FollowupRow.id)
        ).all()
        return [row for row in found if row.status in ACTIVE_STATUSES]  # as remember_candidates

    def _match(self, session: Session, exam: ExamRecord, now: datetime) -> list[str]:
        event = exam.event
        reference = event.reference or event.accession
        changed: list[str] = []
        for row in self._candidates(session, event.patient_keys):
            booked = any(ref == reference for ref, _ in row.bookings or [])
            if event.kind != "report" and event.action == "cancelled":
                relevant = booked
            else:
                relevant = booked or matches(_candidate(row), event)
            if not relevant:
                continue
            decision = apply_event(_tracked(row), event)
            if self._apply(session, row, decision, ACTOR_RULES, exam.dedupe_key, now):
                changed.append(row.public_id)
        return changed

    def _apply(
        self, session: Session, row: FollowupRow, decision: Decision, actor: str,
        reference: str, at: datetime,
    ) -> bool:  # fmt: skip
        """Store a decision and its audit entry; False when it changes nothing."""
        after = decision.tracked
        bookings = [[ref, start.isoformat() if start else None] for ref, start in after.bookings]
        if after.status == row.status and bookings == (row.bookings or []):
            return False
        session.add(
            FollowupAudit(
                followup_id=row.id, from_status=row.status, to_status=after.status,
                actor=actor[:200], note=decision.note[:2000], reference=reference[:600], at=at,
            )
        )  # fmt: skip
        if after.status != row.status:
            row.status_at = at
        row.status = after.status
        row.bookings = bookings
        if decision.adherence:
            row.adherence = decision.adherence
        return True

    def _add_followup(self, session: Session, new: NewFollowup, now: datetime) -> None:
        rec = new.recommendation
        due_from, due_to = new.window
        values = {
            "public_id": os.urandom(16).hex(), "dedupe_key": new.dedupe_key,
            "position": new.position, "control_id": new.control_id[:200],
            "accession": new.accession[:200], "procedure": (new.procedure or "")[:400] or None,
            "patient": new.patient[:400], "patient_keys": list(new.patient_keys),
            "sending_application": new.sending_application[:200],
            "sending_facility": new.sending_facility[:200],
            "order_segments": list(new.order_segments), "report_at": as_utc(new.report_at),
            "modality": rec.modality, "region": rec.region, "side": rec.side,
            "due_from": due_from, "due_to": due_to, "urgency": rec.urgency, "source": rec.source,
            "recommendation": rec.to_dict(), "status": OPEN, "status_at": now,
            "adherence": None, "bookings": [],
        }  # fmt: skip
        keys = [{"key": k} for k in new.patient_keys]
        audit = {
            "from_status": None, "to_status": OPEN, "actor": ACTOR_RULES,
            "note": f"recommended ({rec.source})", "reference": new.dedupe_key[:600], "at": now,
        }  # fmt: skip
        children: list[Child] = [(FollowupPatientKey, "followup_id", key) for key in keys]
        children.append((FollowupAudit, "followup_id", audit))  # both take its id
        if insert_if_new(new.dedupe_key, FollowupRow, {**values, "version": 1}, *children):
            return
        exists = session.scalar(
            select(FollowupRow.id).filter_by(dedupe_key=new.dedupe_key, position=new.position)
        )
        if exists is not None:
            return
        row = FollowupRow(**values)
        row.new_keys = [FollowupPatientKey(**key) for key in keys]
        row.new_audit = [FollowupAudit(**audit)]
        session.add(row)

    def purge(self, older_than: datetime, *, batch_size: int = 500) -> int:
        """Delete exams received, and closed follow-ups closed, before `older_than`.

        Open, scheduled and overdue follow-ups stay whatever their age: someone still
        has to act on them. Their keys, audit and notifications go with them. Works in
        batches, each its own transaction; returns the number of rows deleted.
        """
        cutoff = as_utc(older_than)
        deleted = 0
        targets: list[tuple[Any, Any]] = [
            (FollowupExam.id, FollowupExam.received_at < cutoff),
            (
                FollowupRow.id,
                FollowupRow.status.in_(CLOSED_STATUSES) & (FollowupRow.status_at < cutoff),
            ),
        ]
        for id_column, condition in targets:
            for _ in range(1_000_000):  # bounded: each pass deletes a batch or stops
                with self._transaction() as session:
                    ids = session.scalars(
                        select(id_column).where(condition).limit(batch_size)
                    ).all()
                    if not ids:
                        break
                    if id_column is FollowupRow.id:
                        for child in (FollowupPatientKey, FollowupAudit, FollowupNotification):
                            session.execute(delete(child).where(child.followup_id.in_(ids)))
                    session.execute(delete(id_column.class_).where(id_column.in_(ids)))
                deleted += len(ids)
        return deleted

    # --- reads ------------------------------------------------------------------------

    def prior_findings_many(self, requests: list[PriorRequest]) -> list[SiteFindings | None]:
        """What the latest earlier report of each request's patient and site found, or None;
        one query for all of them.

        The query reads the candidate reports of all the requests' patients and
        regions (two columns and their keys, no ORM objects); each request then
        takes, as the per-report query did, the latest PRIOR_CANDIDATES of its own
        and the first of those on a compatible side.
        """
        asked = [r for r in requests if r.patient_keys and r.region is not None]
        if not asked:
            return [None] * len(requests)
        with self.engine.connect() as connection:
            rows = connection.execute(
                _PRIOR_FINDINGS,
                {"keys": sorted({key for r in asked for key in r.patient_keys}),
                 "regions": sorted({r.region for r in asked if r.region is not None}),
                 "before": max(as_utc(r.before) for r in asked)},
            ).all()  # fmt: skip
        return [_prior_of(request, rows) for request in requests]

    def listing(
        self, *, status: str | None = None, due_soon_at: datetime | None = None, limit: int = 200
    ) -> list[FollowupView]:
        """Follow-ups by status, or the open ones due within a week of `due_soon_at`."""
        query = select(FollowupRow)
        if due_soon_at is not None:
            query = query.where(
                FollowupRow.status == OPEN,
                FollowupRow.due_from <= due_soon_at + DUE_SOON,
                FollowupRow.due_to >= due_soon_at,
            )
        elif status:
            query = query.where(FollowupRow.status == status)
        order = FollowupRow.status_at.desc() if status in CLOSED_STATUSES else FollowupRow.due_to
        with self._sessions() as session:
            rows = session.scalars(query.order_by(order, FollowupRow.id).limit(limit)).all()
            return [_view(row) for row in rows]

    def followup(self, public_id: str) -> FollowupView | None:
        """One follow-up with its audit trail, or None."""
        with self._sessions() as session:
            row = session.scalar(select(FollowupRow).filter_by(public_id=public_id))
            if row is None:
                return None
            audit = session.scalars(
                select(FollowupAudit).filter_by(followup_id=row.id).order_by(FollowupAudit.id)
            ).all()
            return _view(row, audit)

    def timeline(self, public_id: str) -> tuple[list[TimelineExam], list[FollowupView]] | None:
        """The patient of a follow-up: every exam seen, oldest first, and all follow-ups."""
        with self._sessions() as session:
            row = session.scalar(select(FollowupRow).filter_by(public_id=public_id))
            if row is None:
                return None
            keys = list(row.patient_keys)
            exams = session.scalars(
                select(FollowupExam)
                .where(FollowupExam.patient_key.in_(keys))
                .order_by(FollowupExam.at, FollowupExam.id)
                .limit(500)
            ).all()
            ids = select(FollowupPatientKey.followup_id).where(FollowupPatientKey.key.in_(keys))
            followups = session.scalars(
                select(FollowupRow).where(FollowupRow.id.in_(ids)).order_by(FollowupRow.report_at)
            ).all()
            return [_exam(e) for e in exams], [_view(f) for f in followups]

    def counts(self) -> FollowupCounts:
        """How many follow-ups per status, and completed adherent or late."""
        with self._sessions() as session:
            by_status: dict[str, int] = {
                str(status): int(n)
                for status, n in session.execute(
                    select(FollowupRow.status, func.count()).group_by(FollowupRow.status)
                ).all()
            }
            adherence: dict[str, int] = {
                str(kind): int(n)
                for kind, n in session.execute(
                    select(FollowupRow.adherence, func.count())
                    .where(FollowupRow.status == COMPLETED)
                    .group_by(FollowupRow.adherence)
                ).all()
            }
        return FollowupCounts(
            by_status=by_status,
            completed_adherent=adherence.get("adherent", 0),
            completed_late=adherence.get("late", 0),
        )


def _view(row: FollowupRow, audit: Any = ()) -> FollowupView:
    rec = row.recommendation or {}
    return FollowupView(
        public_id=row.public_id, patient=row.patient, region=row.region, side=row.side,
        modality=row.modality, urgency=row.urgency, source=row.source,
        text=rec.get("text", ""), condition=rec.get("condition"), status=row.status,
        adherence=row.adherence, report_at=as_utc(row.report_at), due_from=as_utc(row.due_from),
        due_to=as_utc(row.due_to), status_at=as_utc(row.status_at), accession=row.accession,
        bookings=tuple((ref, at) for ref, at in row.bookings or []),
        audit=tuple(
            (as_utc(a.at), a.from_status, a.to_status, a.actor, a.note) for a in audit
        ),
    )  # fmt: skip


def _exam(row: FollowupExam) -> TimelineExam:
    return TimelineExam(
        at=as_utc(row.at), kind=row.kind, action=row.action, procedure=row.procedure,
        region=row.region, side=row.side, accession=row.accession, course=row.course,
        course_basis=row.course_basis, escalated=row.escalated, course_reason=row.course_reason,
    )  # fmt: skip


_stores: dict[tuple[int, str], FollowupStore] = {}


def open_followups(settings: Any) -> FollowupStore:
    """The process's FollowupStore on the message store's engine (migrated on open)."""
    from worker.store import open_store

    store = open_store(settings)
    key = (os.getpid(), settings.effective_database_url)
    found = _stores.get(key)
    if found is None:
        found = _stores[key] = FollowupStore(store.engine)
    return found
