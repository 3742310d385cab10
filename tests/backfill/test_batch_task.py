"""The batch task in this process: real Redis and SQLite store, failures injected where named."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import Session

from backfill.inputs import read_items
from backfill.summary import BatchReport
from hl7.errors import TransientError
from tests.conftest import FIXTURES
from tests.followup.messages import KNEE, report
from tests.servers import RedisServer, start_redis
from worker import backfill_tasks, celery_app, keys, tasks
from worker.backfill_store import done_keys
from worker.followup_store import open_followups
from worker.settings import Settings
from worker.store import open_store
from worker.store_models import ReportAnnotation

NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path, redis_server: RedisServer) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    celery_app.configure(settings, redis_url=redis_server.url)
    return settings


def _batch(tmp_path: Path, count: int, *extra: bytes) -> list[dict[str, str]]:
    path = tmp_path / "b.jsonl"
    path.write_text("".join(
        json.dumps({"id": f"T{n}", "text": "FINDINGS: Bone marrow edema in the medial femoral "
                    f"condyle. Case {n}.", "patient_id": f"P{n}"}) + "\n"
        for n in range(count)
    ))  # fmt: skip
    hl7 = tmp_path / "x.hl7"
    hl7.write_bytes(b"".join(extra))
    files = [path, hl7] if extra else [path]
    return [
        {"key": i.dedupe_key, "control_id": i.control_id,
         "raw_b64": base64.b64encode(i.raw).decode()}
        for i in read_items(files, timestamp=NOW)
    ]  # fmt: skip


def _run(settings: Settings, redis_server: RedisServer, items: list[dict[str, str]]) -> BatchReport:
    backfill_tasks.backfill_batch(
        run_id="r1", batch_id="b1", received_at=NOW.isoformat(), items=items
    )
    client = keys.redis_client(redis_server.url)
    name = backfill_tasks.reports_key("r1")
    assert 0 < client.ttl(name) <= backfill_tasks.REPORT_TTL
    return BatchReport.from_json(client.lpop(name))  # type: ignore[arg-type]


def test_a_batch_stores_its_reports_and_reports_counts(
    tmp_path: Path, settings: Settings, redis_server: RedisServer
) -> None:
    adt = (FIXTURES / "hl7" / "adt_v25_a01.hl7").read_bytes()
    items = _batch(tmp_path, 4, adt)
    report = _run(settings, redis_server, items)
    assert report.annotated == 4 and report.skipped == 0 and report.flags["BME"] == 4
    assert sum(report.unprocessable.values()) == 1
    assert next(iter(report.unprocessable)).startswith("HL7 error")
    store = open_store(settings)
    # The unprocessable one is done too (its reason recorded), so it is not retried.
    assert done_keys(store, [i["key"] for i in items]) == {i["key"] for i in items}
    again = _run(settings, redis_server, items)
    assert again.skipped == 5 and again.annotated == 0 and not again.unprocessable


def _items_stored(settings: Settings, items: list[dict[str, str]]) -> int:
    return len(done_keys(open_store(settings), [i["key"] for i in items]))


def test_store_outage_waits_and_goes_on_where_it_was(
    tmp_path: Path, settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store goes away twice while the batch's third report is read: the batch waits
    (capped exponential) and then stores every report once."""
    from worker import tasks

    real = tasks._prepare
    calls: list[str] = []
    waits: list[float] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])  # the dedupe key
        if len(calls) in (3, 6):  # the store is away for two tries at the third report
            raise TransientError("message store unavailable: test")
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "_prepare", flaky)
    monkeypatch.setattr(backfill_tasks.time, "sleep", waits.append)
    items = _batch(tmp_path, 6)
    report = _run(settings, redis_server, items)
    assert report.annotated == 6 and report.skipped == 0 and not report.failed
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 <= waits[1] <= 2.0  # capped exponential
    assert _items_stored(settings, items) == 6


def test_store_gone_for_good_fails_the_rest_boundedly(
    tmp_path: Path, settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports stored before the outage stay; the rest are reported failed, after a bounded
    number of tries."""
    from worker import tasks

    monkeypatch.setattr(backfill_tasks, "STORE_CHUNK", 2)
    real = tasks._prepare
    calls: list[int] = []

    def dies(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 2:
            raise TransientError("message store unavailable: test")
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "_prepare", dies)
    monkeypatch.setattr(backfill_tasks.time, "sleep", lambda _s: None)
    items = _batch(tmp_path, 5)
    report = _run(settings, redis_server, items)
    assert report.annotated == 2 and report.failed == {"store unavailable": 3}
    assert _items_stored(settings, items) == 2
    assert len(calls) == 2 + 1 + backfill_tasks.STORE_RETRIES  # bounded


def test_soft_time_limit_reports_the_rest_failed(
    tmp_path: Path, settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker import tasks

    monkeypatch.setattr(backfill_tasks, "STORE_CHUNK", 1)
    real = tasks._prepare
    calls: list[int] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded()
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "_prepare", slow)
    report = _run(settings, redis_server, _batch(tmp_path, 4))
    assert report.annotated == 1
    assert report.failed == {"time limit (240 s per batch)": 3}


def test_a_bug_in_one_report_does_not_stop_the_batch(
    tmp_path: Path, settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker import tasks

    real = tasks._prepare

    def buggy(*args: Any, **kwargs: Any) -> Any:
        if b"Case 1." in args[0]:
            raise KeyError("bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "_prepare", buggy)
    items = _batch(tmp_path, 3)
    report = _run(settings, redis_server, items)
    assert report.annotated == 2 and report.failed == {"error: KeyError": 1}
    assert items[1]["key"] not in done_keys(open_store(settings), [items[1]["key"]])


def test_a_report_twice_in_a_batch_runs_once(
    tmp_path: Path, settings: Settings, redis_server: RedisServer
) -> None:
    items = _batch(tmp_path, 3)
    report = _run(settings, redis_server, [*items, items[1]])
    assert report.annotated == 3 and report.skipped == 1 and report.items == 4


def test_annotator_failure_is_counted_recorded_and_tried_again(
    tmp_path: Path, settings: Settings, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report the annotator fails on (207, radflag's fault) is kept as received, counted
    unprocessable, and not done: once the annotator works, the next run annotates it."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from worker import tasks
    from worker.reports import AnnotationFailed
    from worker.store_models import InboundMessage

    def broken(_report: Any) -> Any:
        raise AnnotationFailed("annotator: a broken rule file")

    items = _batch(tmp_path, 2)
    with monkeypatch.context() as patched:
        patched.setattr(tasks, "annotate_report", broken)
        report = _run(settings, redis_server, items)
    assert report.annotated == 0 and sum(report.unprocessable.values()) == 2
    store = open_store(settings)
    keys_ = [item["key"] for item in items]
    with Session(store.engine) as session:
        received = set(session.scalars(select(InboundMessage.dedupe_key)))
    assert received == set(keys_) and not done_keys(store, keys_)
    again = _run(settings, redis_server, items)
    assert again.annotated == 2 and done_keys(store, keys_) == set(keys_)


def test_an_archive_tracks_only_follow_ups_still_in_their_window(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Backfilled reports recommending an MRI in 6-8 weeks: the one from last year is not
    tracked (it would be overdue at once, and notified), the one from last week is; both
    results carry the recommendation. The same old report through the live path is tracked
    and goes overdue at the next beat."""
    clock = tmp_path / "clock"
    clock.write_text(NOW.isoformat())
    settings = Settings(data_dir=tmp_path / "data", followup_clock_file=clock)
    celery_app.configure(settings, redis_url=redis_server.url)
    old = report("OLD1", "MRN-OLD", KNEE, at="20250601090000")
    recent = report("NEW1", "MRN-NEW", KNEE, at="20260325090000")
    done = _run(settings, redis_server, _batch(tmp_path, 0, old + b"\r\n", recent + b"\r\n"))
    assert done.annotated == 2 and done.followups_untracked == 1
    followups = open_followups(settings)
    assert followups.counts().by_status == {"open": 1}
    assert followups.check_due(NOW, None) == 0  # nothing overdue: the old one is history
    with Session(open_store(settings).engine) as session:
        results = session.scalars(select(ReportAnnotation.result_message)).all()
    assert len(results) == 2 and all(b"FOLLOW_UP" in (r or b"") for r in results)
    # The live path keeps tracking an old report: it is current news to that sender.
    live = report("OLD2", "MRN-LIVE", KNEE, at="20250601090000")
    item = {
        "raw_b64": base64.b64encode(live).decode(), "control_id": "OLD2",
        "dedupe_key": "RIS|GENHOSP|OLD2", "received_at": NOW.isoformat(), "ack_code": "AA",
    }  # fmt: skip
    tasks.annotate_accepted_many([item], settings)
    assert followups.check_due(NOW, None) == 1
