"""The message store: every inbound message, its annotation, result and delivery attempts.

Strategy: SQLAlchemy 2 over SQLite (default, in the data directory) or
PostgreSQL (`--database-url`). One `Store` per process (`open_store`), created
after a fork so that Celery's prefork children never share a connection pool.
Opening brings the schema to Alembic's head. Every write the service makes is an
upsert on the message's dedupe key, so a Celery retry may repeat it safely.
Report text is stored, and rendered by the page, but never logged.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, delete, event, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hl7.errors import TransientError
from nlp.model import PRIORITY_RANK
from worker.fhir_store_models import FhirDelivery
from worker.migrations import upgrade_to_head
from worker.settings import Settings
from worker.store_models import DeliveryAttempt, Flag, InboundMessage, ReportAnnotation, as_utc
from worker.store_models_accounts import ReportDetails, Review
from worker.store_queries import StoreQueries
from worker.store_unit import in_unit, insert_if_new, mark_new, write_session

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery attempt of a result, as `Store.record_deliveries` keeps it."""

    dedupe_key: str
    result_control_id: str
    attempt: int
    outcome: str  # delivered, failed or rejected
    detail: str
    at: datetime


def _new_public_id() -> str:
    return os.urandom(16).hex()


# The stored messages among some dedupe keys (`claim_new_many`), built once.
_STORED_KEYS = select(InboundMessage.__table__.c.dedupe_key).where(
    InboundMessage.__table__.c.dedupe_key.in_(bindparam("keys", expanding=True))
)


class Store(StoreQueries):
    """The message store over one database; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        super().__init__(self._sessions)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def _write(self, action: Callable[[Session], None]) -> None:
        # A concurrent first insert of the same key loses with an IntegrityError;
        # the second try then finds the row and updates it.
        for attempt in (1, 2):
            try:
                with write_session(self._sessions) as session:
                    action(session)
                return
            except IntegrityError:
                if attempt == 2 or in_unit():
                    raise
            except OperationalError as e:
                raise TransientError(f"message store unavailable: {e.orig!r}") from e

    def record_inbound(
        self,
        *,
        dedupe_key: str,
        control_id: str,
        sending_application: str,
        sending_facility: str,
        message_type: str,
        raw: bytes,
        ack_code: str,
        error: str | None,
        received_at: datetime,
    ) -> None:
        """Record a received message and its ACK; a repeat keeps the first receipt time.

        Raises TransientError when the database cannot be reached.
        """
        received_at = as_utc(received_at)

        values = {
            "control_id": control_id, "sending_application": sending_application,
            "sending_facility": sending_facility, "message_type": message_type, "raw": raw,
            "ack_code": ack_code, "error": error,
        }  # fmt: skip

        def upsert(session: Session) -> None:
            if insert_if_new(
                dedupe_key, InboundMessage,
                {"dedupe_key": dedupe_key, "received_at": received_at,
                 "last_received_at": received_at, **values},
            ):  # fmt: skip
                return
            row = session.scalar(select(InboundMessage).filter_by(dedupe_key=dedupe_key))
            if row is None:
                row = InboundMessage(dedupe_key=dedupe_key, received_at=received_at)
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.last_received_at = max(received_at, as_utc(row.last_received_at or received_at))

        self._write(upsert)
        log.debug("stored inbound control_id=%s ack=%s", control_id, ack_code)

    def claim_new(self, dedupe_key: str) -> bool:
        """Inside a unit of work: True (and `mark_new`) when no message `dedupe_key` is stored."""
        return dedupe_key in self.claim_new_many([dedupe_key])

    def claim_new_many(self, dedupe_keys: list[str]) -> set[str]:
        """`claim_new` for many messages in one query: the keys with no message stored.

        A Core statement built once, on the session's connection: the ORM's
        statement path cost more than the query for a batch of one.
        """
        with write_session(self._sessions) as session:
            found = set(session.connection().execute(_STORED_KEYS, {"keys": dedupe_keys}).scalars())
        new = {key for key in dedupe_keys if key not in found}
        for key in new:
            mark_new(key)
        return new

    def record_annotation(
        self,
        *,
        dedupe_key: str,
        accession: str,
        procedure: str | None,
        annotation: dict[str, Any],
        result_control_id: str | None,
        result_message: bytes | None,
        evidence: dict[str, list[str]] | None = None,
        report_text: str | None = None,
        annotated_at: datetime | None = None,
    ) -> None:
        """Record the annotation (`Annotation.to_json_dict()`) and result of a message.

        `evidence` maps a flag code to the sentences it rests on; `report_text` is the
        text the mention offsets refer to (the page highlights mentions in it). A
        repeat replaces the annotation but keeps the review.
        """
        flags = [(f["code"], f["priority"]) for f in annotation.get("flags", [])]
        rank = max((PRIORITY_RANK.get(p, 0) for _, p in flags), default=0)
        moment = as_utc(annotated_at or datetime.now(UTC))

        values: dict[str, Any] = {
            "accession": accession, "procedure": procedure,
            "bme": annotation.get("bme", "absent"), "priority_rank": rank,
            "annotation": annotation, "evidence": evidence,
            "result_control_id": result_control_id, "result_message": result_message,
            "annotated_at": moment,
        }  # fmt: skip
        if report_text is not None:
            values["report_text"] = report_text

        def upsert(session: Session) -> None:
            if insert_if_new(
                dedupe_key, ReportAnnotation,
                {"dedupe_key": dedupe_key, "public_id": _new_public_id(), "report_text": None,
                 "reviewed_by": None, "reviewed_at": None, **values},
                *[(Flag, "annotation_id", {"code": code, "priority": priority})
                  for code, priority in flags],
            ):  # fmt: skip
                return
            row = session.scalar(select(ReportAnnotation).filter_by(dedupe_key=dedupe_key))
            if row is None:
                row = ReportAnnotation(dedupe_key=dedupe_key, public_id=_new_public_id())
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.flags = [Flag(code=code, priority=priority) for code, priority in flags]

        self._write(upsert)
        log.debug("stored annotation accession=%s flags=%d", accession, len(flags))

    def record_delivery(
        self,
        *,
        dedupe_key: str,
        result_control_id: str,
        attempt: int,
        outcome: str,
        detail: str,
        at: datetime,
    ) -> None:
        """Record one delivery attempt; the same attempt recorded twice is kept once."""
        self.record_deliveries(
            [
                DeliveryRecord(dedupe_key, result_control_id, attempt, outcome, detail, at),
            ]
        )

    def record_deliveries(self, records: list[DeliveryRecord]) -> None:
        """Record delivery attempts in one transaction; an attempt recorded twice is kept once.

        One INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL alike) for all of
        them: every delivered result makes one, so it skips the ORM's
        look-up-then-insert, and a batch's results share a commit.
        """
        if not records:
            return
        statement = _delivery_upsert(self.engine.dialect.name)
        rows = [
            {
                "dedupe_key": r.dedupe_key, "result_control_id": r.result_control_id,
                "attempt": r.attempt, "outcome": r.outcome, "detail": r.detail,
                "at": as_utc(r.at),
            }
            for r in records
        ]  # fmt: skip

        def upsert(session: Session) -> None:
            session.execute(statement, rows)

        self._write(upsert)

    def mark_reviewed(self, public_id: str, *, reviewer: str, at: datetime) -> bool:
        """Store who reviewed a report and when; False when there is no such report."""
        with self._sessions.begin() as session:
            row = session.scalar(select(ReportAnnotation).filter_by(public_id=public_id))
            if row is None:
                return False
            row.reviewed_by = reviewer
            row.reviewed_at = as_utc(at)
        log.info("report reviewed accession=%s", row.accession)
        return True

    def purge(
        self,
        older_than: datetime,
        *,
        batch_size: int = 500,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Delete messages, annotations (and reviews), report details, deliveries before a time.

        Everything older than `older_than` goes.

        Works in batches (each its own transaction) and reports (done, total) rows
        to `progress` after each. Returns the number of rows deleted.
        """
        cutoff = as_utc(older_than)
        targets: list[tuple[Any, Any, Any]] = [
            (InboundMessage, InboundMessage.id, InboundMessage.received_at),
            (ReportAnnotation, ReportAnnotation.id, ReportAnnotation.annotated_at),
            (DeliveryAttempt, DeliveryAttempt.id, DeliveryAttempt.at),
            (FhirDelivery, FhirDelivery.id, FhirDelivery.updated_at),
            (ReportDetails, ReportDetails.id, ReportDetails.received_at),
        ]
        with self._sessions() as session:
            total = sum(
                session.scalar(select(func.count()).select_from(m).where(col < cutoff)) or 0
                for m, _, col in targets
            )
        done = 0
        if progress:
            progress(done, total)
        for model, id_column, column in targets:
            while done < total:
                with self._sessions.begin() as session:
                    ids = session.scalars(
                        select(id_column).where(column < cutoff).limit(batch_size)
                    ).all()
                    if not ids:
                        break
                    if model is ReportAnnotation:
                        session.execute(delete(Flag).where(Flag.annotation_id.in_(ids)))
                        session.execute(delete(Review).where(Review.annotation_id.in_(ids)))
                    session.execute(delete(model).where(id_column.in_(ids)))
                done += len(ids)
                if progress:
                    progress(done, total)
        log.info("purged %d rows older than %s", done, cutoff.isoformat())
        return done


_stores: dict[tuple[int, str], Store] = {}
_stores_lock = threading.Lock()


def normalise_database_url(database_url: str) -> str:
    """Plain `postgresql://` (or `postgres://`) URLs use psycopg 3, the driver radflag ships."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


@functools.cache
def _delivery_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of a delivery attempt, built once per dialect."""
    insert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(DeliveryAttempt)
    return insert.on_conflict_do_update(
        index_elements=["dedupe_key", "result_control_id", "attempt"],
        set_={
            "outcome": insert.excluded.outcome,
            "detail": insert.excluded.detail,
            "at": insert.excluded.at,
        },
    )


def create_store_engine(database_url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for `database_url`; SQLite gets WAL and a busy timeout for many processes.

    `sqlite_synchronous` NORMAL (in WAL mode) fsyncs at checkpoints rather than at
    every commit: a commit survives a process crash, and the database is never
    corrupted, but the last commits may be lost on power loss. Settings say why
    that is the default.
    """
    database_url = normalise_database_url(database_url)
    synchronous = sqlite_synchronous.upper()
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"sqlite_synchronous must be NORMAL or FULL, got {sqlite_synchronous!r}")
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True)


def store_exists(settings: Settings) -> bool:
    """False when the store is SQLite and its file is not there (nothing ran in data_dir).

    Read-only commands ask this first, so that looking does not create an empty store.
    """
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        return True
    path = url.split(":///", 1)[-1]
    return path in ("", ":memory:") or os.path.isfile(path)


def open_store(settings: Settings) -> Store:
    """The process's Store for `settings`, migrated to the latest schema.

    Raises TransientError when the database cannot be reached.
    """
    url = settings.effective_database_url
    key = (os.getpid(), url)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            engine = create_store_engine(url, sqlite_synchronous=settings.sqlite_synchronous)
            try:
                upgrade_to_head(engine, lock_dir=settings.data_dir)
            except OperationalError as e:
                engine.dispose()
                raise TransientError(f"message store unavailable: {e.orig!r}") from e
            store = _stores[key] = Store(engine)
        return store
