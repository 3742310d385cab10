"""worker.followup_store and followup_tasks.track_report over a real SQLite and PostgreSQL store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

import nlp
from followup.events import clinical_event
from followup.status import StatusError
from hl7.extract import extract_report
from hl7.orders import read_event
from tests.followup.messages import KNEE, LATER, appointment, order, report
from tests.pg import PostgresServer, running_postgres
from worker.followup_store import ExamRecord, FollowupStore, open_followups
from worker.followup_tasks import track_report
from worker.reports import annotate_report
from worker.settings import Settings
from worker.store import open_store
from worker.store_unit import unit_of_work

RECEIVED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    clock = tmp_path / "clock"
    clock.write_text("2026-01-06T00:00:00+00:00")
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database()
    return Settings(data_dir=tmp_path / "data", database_url=url, followup_clock_file=clock)


def _track(settings: Settings, raw: bytes, key: str) -> list[tuple[str, str, str, str, str]]:
    report_ = extract_report(raw)
    annotation = annotate_report(report_)
    return track_report(settings, raw, report_, annotation, key, RECEIVED).rows


def _event(settings: Settings, raw: bytes, key: str, now: datetime) -> list[str]:
    exam = ExamRecord(key, clinical_event(read_event(raw)), now)
    return open_followups(settings).record_event(exam, now=now)


def test_report_makes_one_open_follow_up_and_rows_even_when_repeated(settings: Settings) -> None:
    """track_report stores the recommendation once (a task rerun adds nothing) and returns rows."""
    raw = report("S1", "MRN7001", KNEE)
    rows = _track(settings, raw, "k1")
    assert _track(settings, raw, "k1") == rows
    identifiers = [row[1] for row in rows]
    assert identifiers[0] == "FOLLOW_UP_MODALITY" and identifiers[-1] == "FOLLOW_UP_JSON"
    store = open_followups(settings)
    (view,) = store.listing()
    assert (view.status, view.region, view.side, view.source) == ("open", "knee", "left", "report")
    assert view.patient == "MRN7001 (GENHOSP)"
    detail = store.followup(view.public_id)
    assert detail is not None and [a[2:4] for a in detail.audit] == [("open", "radflag")]


def test_bookings_reruns_and_the_audit_trail(settings: Settings) -> None:
    """Order then appointment: scheduled once; a repeated message writes no second entry."""
    _track(settings, report("S2", "MRN7002", KNEE), "k2")
    now = datetime(2026, 1, 10, tzinfo=UTC)
    placed = order("S2O", "MRN7002", placer="PL2")
    assert _event(settings, placed, "o2", now)
    assert _event(settings, placed, "o2", now) == []
    booked = appointment("S2A", "MRN7002", appointment_id="AP2", start="20260220100000")
    assert _event(settings, booked, "a2", now)
    store = open_followups(settings)
    (view,) = store.listing()
    detail = store.followup(view.public_id)
    assert detail is not None and view.status == "scheduled"
    assert [(a[1], a[2]) for a in detail.audit] == [
        (None, "open"),
        ("open", "scheduled"),
        ("scheduled", "scheduled"),
    ]
    assert len(view.bookings) == 2


def test_overdue_builds_one_notification_per_change(settings: Settings) -> None:
    """check_due moves it once; a second check builds nothing; published ones are not pending."""
    _track(settings, report("S3", "MRN7003", KNEE), "k3")
    store = open_followups(settings)
    built: list[str] = []

    def build(row: object, control_id: str) -> bytes:
        built.append(control_id)
        return b"MSH|notification"

    late = datetime(2026, 3, 5, tzinfo=UTC)
    assert store.check_due(late - timedelta(days=10), build) == 0
    assert store.check_due(late, build) == 1
    assert store.check_due(late + timedelta(days=1), build) == 0
    (pending,) = store.pending_notifications()
    assert [pending.control_id] == built and pending.control_id.startswith("FU")
    store.mark_published(pending.control_id, late)
    assert store.pending_notifications() == []
    (view,) = store.listing(status="overdue")
    detail = store.followup(view.public_id)
    assert detail is not None and detail.audit[-1][1:4] == ("open", "overdue", "radflag-beat")


def test_people_close_with_a_reason_and_their_name(settings: Settings) -> None:
    """not_needed with a reason is kept with who and when; a closed one cannot be closed again."""
    _track(settings, report("S4", "MRN7004", KNEE), "k4")
    store = open_followups(settings)
    (view,) = store.listing()
    at = datetime(2026, 1, 20, tzinfo=UTC)
    assert store.set_status(view.public_id, "not_needed", "symptoms resolved", actor="Dr A", at=at)
    detail = store.followup(view.public_id)
    assert detail is not None and detail.audit[-1] == (
        at,
        "open",
        "not_needed",
        "Dr A",
        "symptoms resolved",
    )
    with pytest.raises(StatusError):
        store.set_status(view.public_id, "completed_elsewhere", "x", actor="Dr B", at=at)
    assert not store.set_status("0" * 32, "not_needed", "x", actor="Dr B", at=at)


def test_later_report_completes_and_records_progression(settings: Settings) -> None:
    """The next MRI completes the follow-up; progression with collapse escalates in the rows."""
    _track(settings, report("S5", "MRN7005", KNEE), "k5")
    rows = _track(settings, report("S6", "MRN7005", LATER, at="20260210090000"), "k6")
    values = {row[1]: row[3] for row in rows}
    assert values["BME_COURSE"].startswith("progressed^")
    assert "OSTEONECROSIS_ESCALATION" in values
    store = open_followups(settings)
    done = store.listing(status="completed")
    assert len(done) == 1 and done[0].adherence == "adherent"
    new = store.listing(status="open")
    assert new and all(v.report_at == datetime(2026, 2, 10, 9, 0, tzinfo=UTC) for v in new)
    exams, followups = store.timeline(done[0].public_id) or ([], [])
    assert [e.course for e in exams] == [None, "progressed"] and exams[1].escalated
    assert len(followups) == 1 + len(new)
    counts = store.counts()
    assert counts.completed_adherent == 1 and counts.adherence == 1.0


def test_other_patient_with_a_similar_id_is_untouched(settings: Settings) -> None:
    """MRN70070 and MRN7007 at another authority do not close MRN7007's follow-up."""
    _track(settings, report("S7", "MRN7007", KNEE), "k7")
    _track(settings, report("S8", "MRN70070", LATER, at="20260210090000"), "k8")
    _track(settings, report("S9", "MRN7007", LATER, at="20260210090000", authority="OTHER"), "k9")
    store: FollowupStore = open_followups(settings)
    mine = [v for v in store.listing() if v.patient == "MRN7007 (GENHOSP)"]
    assert [v.status for v in mine] == ["open"]


def test_annotation_language_of_german_report(settings: Settings) -> None:
    """A German report's own recommendation is stored with its German text."""
    text = (
        "Befund: Knochenmarködem im medialen Femurkondylus links.\nKontrolle in 6 Wochen empfohlen."
    )
    raw = report("S10", "MRN7010", text, procedure="MRT Knie links")
    assert nlp.annotate(text, language="de").flags
    _track(settings, raw, "k10")
    (view,) = open_followups(settings).listing()
    assert view.text == "Kontrolle in 6 Wochen empfohlen." and view.side == "left"


def test_purge_keeps_what_someone_must_still_act_on(settings: Settings) -> None:
    """Old exams and closed follow-ups go; an open follow-up stays however old."""
    _track(settings, report("S11", "MRN7011", KNEE), "k11")
    _track(settings, report("S12", "MRN7012", KNEE), "k12")
    store = open_followups(settings)
    closed = next(v for v in store.listing() if v.patient.startswith("MRN7012"))
    at = datetime(2026, 1, 7, tzinfo=UTC)
    store.set_status(closed.public_id, "completed_elsewhere", "done in town", actor="Dr A", at=at)
    deleted = store.purge(datetime(2030, 1, 1, tzinfo=UTC))
    assert deleted == 3  # two exams, one closed follow-up
    (left,) = store.listing()
    assert left.patient.startswith("MRN7011") and left.status == "open"
    assert store.followup(closed.public_id) is None
    assert store.purge(datetime(2030, 1, 1, tzinfo=UTC)) == 0


def test_earlier_findings_of_many_reports_are_read_in_one_query(settings: Settings) -> None:
    """Each request gets its own patient's latest earlier report at its site and a compatible
    side, before its own time and never itself; other patients and sites do not leak in."""
    from worker.followup_store import PriorRequest

    right = (
        "MRI RIGHT KNEE\nFindings:\nBone marrow edema in the lateral femoral condyle.\n"
        "Impression:\nLateral femoral condyle bone marrow edema."
    )
    _track(settings, report("P1", "MRN7101", KNEE, at="20260101090000"), "p1")
    _track(settings, report("P2", "MRN7101", LATER, at="20260201090000"), "p2")
    _track(settings, report("P3", "MRN7101", right, procedure="MRI KNEE RIGHT",
                            at="20260301090000"), "p3")  # fmt: skip
    _track(settings, report("P4", "MRN7102", KNEE, at="20260115090000"), "p4")
    store = open_followups(settings)
    one, two = ("GENHOSP|MRN7101",), ("GENHOSP|MRN7102",)
    march, february = datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 2, 1, 9, tzinfo=UTC)
    found = store.prior_findings_many([
        PriorRequest(one, "knee", "left", march, "new"),  # the progressed one, not the right knee
        PriorRequest(one, "knee", "left", february, "new"),  # only what came before
        PriorRequest(one, "knee", "left", march, "p2"),  # never the report itself
        PriorRequest(one, "knee", "right", march, "new"),
        PriorRequest(one, "hip", "left", march, "new"),
        PriorRequest(two, "knee", "left", march, "new"),
        PriorRequest((), "knee", "left", march, "new"),
        PriorRequest(two, "knee", "right", march, "new"),
    ])  # fmt: skip
    assert [f.collapse if f else None for f in found] == [
        True, False, False, False, None, False, None, None,
    ]  # fmt: skip
    assert [sorted(f.bones) if f else None for f in found][3] == ["lateral_femoral_condyle"]
    alone = store.prior_findings_many([PriorRequest(one, "knee", "left", march, "new")])
    assert alone == found[:1]  # what the others ask changes nothing


def test_a_batch_finds_its_patients_follow_ups_by_their_keys_not_by_status(
    tmp_path: Path,
) -> None:
    """SQLite's plan for the batch's candidate query (remember_candidates) and the one-report
    query (_candidates) starts from the patients' keys. A plan from the status index read
    every active follow-up of the store for each batch: 9 ms at 15,500, growing with it."""
    settings = Settings(data_dir=tmp_path / "data")
    store = open_followups(settings)
    engine = open_store(settings).engine
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "followup_patient_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    keys = {f"GENHOSP|MRN{n:05d}" for n in range(40)}  # a batch's patients
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with unit_of_work(engine) as session:
            store.remember_candidates(keys)
            assert store._candidates(session, ("GENHOSP|OTHER", *sorted(keys)[:30])) == []
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 2
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = " / ".join(
                str(row[3])
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "ix_followups_status_due" not in plan, plan
            assert "ix_followup_patient_keys_key" in plan, plan
