"""`radflag backfill` end to end: a real redis-server, a real `radflag worker`, the real command.

One Redis, store and worker pool for the module (starting workers is the
expensive part); each test backfills reports of its own (other content, other
keys) and checks the store by those keys.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Consumer, Exchange, Queue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backfill.inputs import input_files, read_items
from hl7.header import parse_header
from tests.conftest import FIXTURES, ROOT
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    RedisServer,
    service_env,
    start_redis,
    start_worker,
    wait_until,
)
from worker import celery_app
from worker.settings import Settings
from worker.store import open_store
from worker.store_models import InboundMessage, ReportAnnotation
from worker.store_queries import WorklistFilter

STYLES = FIXTURES / "reports" / "styles_en.jsonl"
CODE = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"


@dataclass
class Service:
    redis: RedisServer
    env: dict[str, str]
    base: Path
    worker: RadflagProcess
    other: RadflagProcess  # a second pool, as on another machine: backfill only
    settings: Settings


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = tmp_path_factory.mktemp("backfill")
    redis = start_redis(base / "redis")
    env = service_env(base / "data", redis.url)
    workers: list[RadflagProcess] = []
    try:
        workers.append(
            start_worker(env, base, queues="annotate,deliver,store,backfill", concurrency=2)
        )
        workers.append(start_worker(env, base, queues="backfill", concurrency=1, name="other"))
        yield Service(redis, env, base, workers[0], workers[1], Settings(data_dir=base / "data"))
    finally:
        for worker in workers:
            worker.stop()
        redis.stop()


def _reports(tmp: Path, name: str, start: int, count: int, *, tag: str) -> Path:
    """`count` reports of the styles corpus as JSON Lines, each another patient and accession."""
    corpus = STYLES.read_text(encoding="utf-8").splitlines()
    # Past the corpus's end the texts come round again, each as another report (id, patient).
    lines = [corpus[(start + n) % len(corpus)] for n in range(count)]
    out = tmp / name
    with out.open("w", encoding="utf-8") as f:
        for n, line in enumerate(lines):
            item = json.loads(line)
            f.write(json.dumps({
                "id": f"{tag}-{n:04d}", "text": item["text"], "patient_id": f"{tag}-P{n}",
            }) + "\n")  # fmt: skip
    return out


def _backfill(service: Service, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CODE, "backfill", *args],
        env=service.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _start_backfill(service: Service, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", CODE, "backfill", *args],
            env=service.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            # As from a terminal: a suite started in the background (`make test &`) runs
            # with SIGINT ignored, which children inherit, and Python then keeps it so.
            preexec_fn=_interruptible,
        )  # fmt: skip


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _keys(*paths: Path) -> list[str]:
    from datetime import UTC, datetime

    return [i.dedupe_key for i in read_items(input_files(paths), timestamp=datetime.now(UTC))]


def _stored(service: Service | Settings, keys: list[str]) -> tuple[int, int]:
    """(inbound rows, annotation rows) of these keys."""
    store = open_store(service if isinstance(service, Settings) else service.settings)
    with Session(store.engine) as session:
        inbound = session.scalar(
            select(func.count()).where(InboundMessage.dedupe_key.in_(keys))
        )  # fmt: skip
        annotated = session.scalar(
            select(func.count()).where(ReportAnnotation.dedupe_key.in_(keys))
        )  # fmt: skip
    return int(inbound or 0), int(annotated or 0)


def _summary(result: subprocess.CompletedProcess) -> dict:
    assert result.stdout.lstrip().startswith("{"), result.stdout + result.stderr
    return json.loads(result.stdout)


def test_directory_and_jsonl_land_in_the_store_and_a_second_run_skips_all(
    service: Service, tmp_path: Path
) -> None:
    archive = tmp_path / "archive" / "nested"
    archive.mkdir(parents=True)
    for name in ("oru_v251_knee_sections.hl7", "oru_v25_lf_quirks.hl7", "adt_v25_a01.hl7"):
        (archive / name).write_bytes((FIXTURES / "hl7" / name).read_bytes())
    jsonl = _reports(tmp_path, "reports.jsonl", 0, 40, tag="E2E")
    keys = _keys(tmp_path / "archive", jsonl)
    first = _backfill(service, str(tmp_path / "archive"), str(jsonl), "--workers", "0", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    summary = _summary(first)
    assert summary["items"] == len(keys) == 43
    assert summary["unprocessable"] == 1  # the ADT: counted with its reason, not a stop
    assert next(iter(summary["unprocessable_reasons"])).startswith("HL7 error")
    assert summary["annotated"] == 42 and summary["failed"] == 0 and summary["not_finished"] == 0
    assert sum(summary["flags"].values()) > 0
    assert _stored(service, keys) == (43, 42)
    # The worklist (flagged reports) shows the flagged JSONL reports by their ids.
    store = open_store(service.settings)
    rows, _total = store.worklist(WorklistFilter(search="E2E-"), limit=100)
    with Session(store.engine) as session:
        flagged = session.scalars(
            select(ReportAnnotation.accession).where(
                ReportAnnotation.dedupe_key.in_(keys), ReportAnnotation.accession.like("E2E-%"),
                ReportAnnotation.bme != "absent",
            )
        ).all()  # fmt: skip
    assert flagged and {r.accession for r in rows} >= set(flagged)
    assert {r.patient_id for r in rows} >= {"E2E-P0"} or any(r.patient_id for r in rows)

    batches_before = service.worker.log().count("backfill batch=")
    again = _backfill(service, str(tmp_path / "archive"), str(jsonl), "--workers", "0", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    repeat = _summary(again)
    assert repeat["skipped_done"] == 43 and repeat["annotated"] == 0
    assert _stored(service, keys) == (43, 42)
    time.sleep(0.5)
    assert service.worker.log().count("backfill batch=") == batches_before  # nothing submitted


def test_ctrl_c_then_resume_stores_each_report_once(service: Service, tmp_path: Path) -> None:
    # Enough reports that the Ctrl-C lands mid-run: the workers annotate hundreds a second.
    jsonl = _reports(tmp_path, "big.jsonl", 40, 800, tag="INT")
    keys = _keys(jsonl)
    log = tmp_path / "first.log"
    proc = _start_backfill(
        service, log, str(jsonl), "--workers", "0", "--batch-size", "5", "--in-flight", "2"
    )
    try:
        wait_until(lambda: _stored(service, keys)[1] >= 20, timeout=120, what="20 annotated")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "Traceback" not in text and "not finished" in text
    partial = _stored(service, keys)[1]
    assert 20 <= partial < len(keys)
    resumed = _backfill(service, str(jsonl), "--workers", "0", "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming backfill run" in resumed.stderr
    summary = _summary(resumed)
    assert summary["skipped_done"] >= 20 and summary["annotated"] < len(keys) - 19
    assert summary["skipped_done"] + summary["annotated"] == len(keys)
    assert _stored(service, keys) == (len(keys), len(keys))
    with Session(open_store(service.settings).engine) as session:
        accessions = session.scalars(
            select(ReportAnnotation.accession).where(ReportAnnotation.accession.like("INT-%"))
        ).all()
    assert sorted(accessions) == sorted(set(accessions)) and len(accessions) == len(keys)
    # Both pools took batches of the run: work is shared by every worker on the Redis.
    assert "backfill batch=" in service.worker.log() and "backfill batch=" in service.other.log()


def test_sigkill_of_a_worker_process_and_of_the_command_loses_nothing(
    service: Service, tmp_path: Path
) -> None:
    jsonl = _reports(tmp_path, "kill.jsonl", 0, 120, tag="KIL")
    keys = _keys(jsonl)
    log = tmp_path / "killed.log"
    proc = _start_backfill(service, log, str(jsonl), "--workers", "0", "--batch-size", "20")
    try:
        wait_until(lambda: _stored(service, keys)[0] >= 5, timeout=120, what="a batch running")
        pool = service.worker.children()
        assert pool, "the worker has no pool processes"
        os.kill(pool[0], signal.SIGKILL)  # mid-batch: its batch goes back to the queue
        wait_until(lambda: _stored(service, keys)[1] >= 50, timeout=120, what="50 annotated")
        proc.send_signal(signal.SIGKILL)  # the command crashes: no summary, no state update
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    resumed = _backfill(service, str(jsonl), "--workers", "0", "--json", "--batch-timeout", "60")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = _summary(resumed)
    assert summary["failed"] == 0 and summary["skipped_done"] + summary["annotated"] == len(keys)
    wait_until(lambda: _stored(service, keys) == (len(keys), len(keys)), timeout=60,
               what="every report stored")  # fmt: skip
    # Celery saw its pool process die and replaced it (a WorkerLostError line is only
    # logged when the killed process held a task at that instant, which faster batches
    # make a race).
    wait_until(lambda: pool[0] not in service.worker.children()
               and len(service.worker.children()) == len(pool),
               timeout=30, what="the killed pool process replaced")  # fmt: skip


def test_send_delivers_every_result_at_the_rate_limit(service: Service, tmp_path: Path) -> None:
    jsonl = _reports(tmp_path, "send.jsonl", 160, 24, tag="SND")
    destination = MllpDestination().start()
    try:
        result = _backfill(
            service, str(jsonl), "--workers", "0", "--json", "--send", "--rate", "8",
            "--destination", destination.address,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert _summary(result)["sent"] == 24
        received = destination.wait_for(24, timeout=60)
        ids = [parse_header(m).control_id for m in received]
        assert len(set(ids)) == 24  # each result once
        # 24 results at 8/s (bursts of 1): at least 23/8 s between the first and the last.
        span = destination.arrivals[-1] - destination.arrivals[0]
        assert span >= 23 / 8 * 0.8, span
        # Sending again sends nothing: every result has a delivery attempt now.
        wait_until(lambda: "delivered result=" in service.worker.log(), timeout=10)
        time.sleep(1.0)
        again = _backfill(
            service, str(jsonl), "--workers", "0", "--json", "--send",
            "--destination", destination.address,
        )  # fmt: skip
        assert _summary(again)["sent"] == 0
        assert destination.invalid == []
    finally:
        destination.stop()


def test_with_no_worker_it_starts_local_ones_and_stops_them(tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    try:
        env = service_env(tmp_path / "data", redis.url)
        reports = _reports(tmp_path, "local.jsonl", 200, 6, tag="LOC")
        result = subprocess.run(
            [sys.executable, "-c", CODE, "backfill", str(reports), "--workers", "1", "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "starting 1 local worker processes" in result.stderr
        assert _summary(result)["annotated"] == 6
        log = (tmp_path / "data" / "logs" / "backfill-workers.log").read_text()
        assert "backfill batch=" in log and "Warm shutdown" in log  # stopped when done
        assert _stored(Settings(data_dir=tmp_path / "data"), _keys(reports)) == (6, 6)
    finally:
        redis.stop()


def test_local_workers_go_when_the_command_is_killed(tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    proc = None
    try:
        env = service_env(tmp_path / "data", redis.url)
        reports = _reports(tmp_path, "orphan.jsonl", 0, 60, tag="ORP")
        log = tmp_path / "data" / "logs" / "backfill-workers.log"
        with (tmp_path / "cmd.log").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", CODE, "backfill", str(reports), "--workers", "1",
                 "--batch-size", "2", "--in-flight", "2"],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(
            lambda: log.exists() and "backfill batch=" in log.read_text(), timeout=120,
            what="the local worker at work",
        )  # fmt: skip
        worker_pid = int(re.search(r"\[worker (\d+)\]", log.read_text()).group(1))  # type: ignore[union-attr]
        proc.kill()  # SIGKILL: no finally, no cleanup of its own
        proc.wait(10)
        wait_until(lambda: not Path(f"/proc/{worker_pid}").exists(), timeout=60,
                   what="the local worker gone")  # fmt: skip
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        redis.stop()


def test_redis_gone_mid_run_is_one_line_and_the_run_resumes(tmp_path: Path) -> None:
    redis = start_redis(tmp_path / "redis")
    try:
        env = service_env(tmp_path / "data", redis.url)
        reports = _reports(tmp_path, "gone.jsonl", 100, 50, tag="GON")
        keys = _keys(reports)
        settings = Settings(data_dir=tmp_path / "data")
        log = tmp_path / "cmd.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", CODE, "backfill", str(reports), "--workers", "1",
                 "--batch-size", "2", "--in-flight", "2"],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_until(lambda: _stored(settings, keys)[1] >= 4, timeout=120, what="a few done")
            redis.stop()
            assert proc.wait(120) == 1
        finally:
            if proc.poll() is None:
                proc.kill()
        text = log.read_text()
        assert "Traceback" not in text
        # One line: the loop lost Redis while polling ("Redis unavailable: ...") or while
        # publishing ("cannot publish radflag.backfill_batch: ...").
        said = [line for line in text.splitlines() if line.startswith("radflag backfill: ")]
        assert len(said) == 1 and said[0].endswith("; run the same command again to resume")
        assert "Redis unavailable" in said[0] or "cannot publish" in said[0]
        redis.start()  # the same port, its append-only file kept
        resumed = subprocess.run(
            [sys.executable, "-c", CODE, "backfill", str(reports), "--workers", "1", "--json"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert _stored(settings, keys) == (50, 50)
    finally:
        redis.stop()


def test_bad_input_and_setup_are_one_line_and_exit_2(service: Service, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b"}\n', encoding="utf-8")
    for args, expected in (
        ([str(bad)], f"{bad}:2: needs string fields id and text"),
        ([str(tmp_path / "missing")], "no such file or directory"),
        ([str(FIXTURES / "hl7" / "not_hl7.txt")], "unsupported file type"),
        ([str(bad), "--rate", "5"], "--rate limits --send"),
    ):
        result = _backfill(service, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    # Nothing consumes backfill on another Redis, and --workers 0 forbids starting any.
    empty = start_redis(tmp_path / "other-redis")
    try:
        env = service_env(tmp_path / "other", empty.url)
        good = _reports(tmp_path, "one.jsonl", 0, 1, tag="ONE")
        result = subprocess.run(
            [sys.executable, "-c", CODE, "backfill", str(good), "--workers", "0"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "radflag backfill: no worker consumes the backfill queue: start `radflag worker` "
            "(its default queues include backfill) or `radflag run`, or give --workers N"
        ]
    finally:
        empty.stop()


def _consume_order(url: str, strategy: str) -> list[str]:
    """Queue 3 messages on a background queue, then 3 on a live one; the order kombu takes them."""
    names = ["order-live", "order-backfill"]
    queues = [Queue(n, Exchange(n, type="direct"), routing_key=n) for n in names]
    seen: list[str] = []
    with Connection(url, transport_options={"queue_order_strategy": strategy}) as conn:
        producer = conn.Producer()
        for queue in queues[::-1]:  # the batches were queued first
            for n in range(3):
                producer.publish({"n": n}, exchange=queue.exchange, routing_key=queue.name,
                                 declare=[queue])  # fmt: skip

        def take(body: dict, message: Any) -> None:
            seen.append(message.delivery_info["routing_key"])
            message.ack()

        with Consumer(conn, queues[::-1], callbacks=[take], prefetch_count=1):
            deadline = time.monotonic() + 10
            while len(seen) < 6 and time.monotonic() < deadline:
                conn.drain_events(timeout=2)
    return seen


def test_kombu_takes_live_queues_before_backfill(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue order on a real Redis through kombu's own transport, as a worker consumes."""
    from worker import queue_order

    monkeypatch.setattr(queue_order, "BACKGROUND_QUEUES", frozenset({"order-backfill"}))
    # kombu's default alternates between the queues: a live report waits behind batches.
    default = _consume_order(service.redis.url, "round_robin")
    assert default != ["order-live"] * 3 + ["order-backfill"] * 3
    assert _consume_order(service.redis.url, celery_app.QUEUE_ORDER) == (
        ["order-live"] * 3 + ["order-backfill"] * 3
    )
