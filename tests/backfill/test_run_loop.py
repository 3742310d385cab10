"""worker.backfill_run.Backfill's loop with an injected clock and a stand-in for Redis and workers.

Narrow unit tests of the loop's own rules (back-pressure, the first report of a
batch counts, bounded resubmission, the send rate); the real Redis, workers and
destination are in test_backfill_e2e.py. The store is a real SQLite one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backfill.inputs import read_items
from backfill.summary import BatchReport
from worker import keys
from worker.backfill_run import Backfill, Options
from worker.backfill_state import RunState
from worker.backfill_tasks import reports_key
from worker.settings import Settings
from worker.store import open_store

NOW = datetime(2026, 5, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeRedis:
    """The report list only; blpop lets simulated time pass instead of waiting."""

    def __init__(self, clock: Clock) -> None:
        self.lists: dict[str, list[str]] = {}
        self.clock = clock
        self.on_wait: Any = None

    def llen(self, name: str) -> int:
        return len(self.lists.get(name, []))

    def lpop(self, name: str, count: int) -> list[str] | None:
        items = self.lists.get(name, [])
        taken, self.lists[name] = items[:count], items[count:]
        return taken or None

    def blpop(self, names: list[str], timeout: float) -> tuple[str, str] | None:
        self.clock.now += timeout
        if self.on_wait is not None:
            self.on_wait()
        popped = self.lpop(names[0], 1)
        return (names[0], popped[0]) if popped else None


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return open_store(Settings(data_dir=tmp_path / "data"))


def _items(tmp_path: Path, count: int) -> list:
    path = tmp_path / "r.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"R{n}", "text": f"Report {n}."}) + "\n" for n in range(count))
    )
    return list(read_items([path], timestamp=NOW))


def _backfill(store: Any, clock: Clock, client: FakeRedis, published: list, **options: Any):
    state = RunState("run1", NOW.isoformat(), [], NOW.isoformat())
    return Backfill(
        state=state, options=Options(**options), store=store, client=client,
        publish=lambda name, kwargs: published.append((name, kwargs)), clock=clock,
    )  # fmt: skip


def test_back_pressure_and_first_report_counts(tmp_path: Path, store: Any) -> None:
    clock = Clock()
    client = FakeRedis(clock)
    published: list[tuple[str, dict]] = []
    out_at_once: list[int] = []
    run = _backfill(store, clock, client, published, batch_size=10, in_flight=3)

    def workers() -> None:  # every wait, the oldest batch out is reported (twice: a rerun)
        out_at_once.append(len(run._pending))
        if run._pending:
            batch_id, pending = next(iter(run._pending.items()))
            report = BatchReport(batch_id, annotated=pending.size)
            name = reports_key("run1")
            client.lists.setdefault(name, []).extend([report.to_json()] * 2 + ["{not json"])

    client.on_wait = workers
    summary = run.run(iter(_items(tmp_path, 95)), 95)
    assert max(out_at_once) == 3  # never more than --in-flight batches out
    assert [len(k["items"]) for _, k in published] == [10] * 9 + [5]
    assert {name for name, _ in published} == {keys.TASK_BACKFILL}
    assert summary.annotated == 95 and summary.finished == 95  # the second reports ignored
    assert not summary.interrupted and summary.failed == {}


def test_a_batch_never_reported_is_resubmitted_then_failed(tmp_path: Path, store: Any) -> None:
    clock = Clock()
    client = FakeRedis(clock)
    published: list[tuple[str, dict]] = []
    run = _backfill(store, clock, client, published, batch_size=5, batch_timeout=30.0, attempts=3)
    summary = run.run(iter(_items(tmp_path, 5)), 5)
    assert len(published) == 3  # submitted, then twice again with the same batch id
    assert len({k["batch_id"] for _, k in published}) == 1
    assert summary.failed == {"not reported after 3 submissions": 5}
    assert 60.0 <= clock.now < 100.0  # bounded: three timeouts, then done


def test_send_respects_the_rate_and_skips_what_was_sent(tmp_path: Path, store: Any) -> None:
    items = _items(tmp_path, 12)
    for item in items:  # annotated before: results in the store, nothing sent yet
        store.record_inbound(
            dedupe_key=item.dedupe_key, control_id=item.control_id, sending_application="A",
            sending_facility="F", message_type="ORU^R01", raw=item.raw, ack_code="AA",
            error=None, received_at=NOW,
        )  # fmt: skip
        store.record_annotation(
            dedupe_key=item.dedupe_key, accession="x", procedure=None,
            annotation={"bme": "absent", "flags": []}, result_control_id="RF" + item.control_id,
            result_message=b"MSH|result\r",
        )  # fmt: skip
    store.record_delivery(
        dedupe_key=items[0].dedupe_key, result_control_id="RF", attempt=1, outcome="delivered",
        detail="AA", at=NOW,
    )  # fmt: skip
    clock = Clock()
    client = FakeRedis(clock)
    published: list[tuple[str, dict]] = []
    sent_at: list[float] = []
    run = _backfill(store, clock, client, published, send=True, rate=2.0, destination="h:1")
    run.publish = lambda name, kwargs: (published.append((name, kwargs)), sent_at.append(clock.now))
    summary = run.run(iter(items), 12)
    assert summary.skipped_done == 12 and summary.sent == 11  # the delivered one is not resent
    deliveries = [k for name, k in published if name == keys.TASK_DELIVER]
    assert len(deliveries) == 11 and all(k["destination"] == "h:1" for k in deliveries)
    assert all("received_at" not in k for k in deliveries)
    # 2 per second with bursts of 1: 11 results take at least 5 s, and no 1 s window holds > 3.
    assert sent_at[-1] - sent_at[0] >= 5.0 - 1e-9
    for i, start in enumerate(sent_at):
        assert sum(1 for t in sent_at[i:] if t < start + 1.0) <= 3


def test_send_waits_while_the_deliver_queue_is_full(tmp_path: Path, store: Any) -> None:
    items = _items(tmp_path, 30)
    for item in items:
        store.record_inbound(
            dedupe_key=item.dedupe_key, control_id=item.control_id, sending_application="A",
            sending_facility="F", message_type="ORU^R01", raw=item.raw, ack_code="AA",
            error=None, received_at=NOW,
        )  # fmt: skip
        store.record_annotation(
            dedupe_key=item.dedupe_key, accession="x", procedure=None,
            annotation={"bme": "absent", "flags": []}, result_control_id="RF" + item.control_id,
            result_message=b"MSH|result\r",
        )  # fmt: skip
    clock = Clock()
    client = FakeRedis(clock)
    deliver = client.lists.setdefault(keys.QUEUE_DELIVER, [])
    deepest: list[int] = []

    def publish(name: str, kwargs: dict) -> None:
        deliver.append(kwargs["dedupe_key"])  # the deliverer is slow: it takes one per wait
        deepest.append(len(deliver))

    def deliverer() -> None:
        if deliver:
            deliver.pop(0)

    client.on_wait = deliverer
    run = _backfill(store, clock, client, [], send=True, deliver_queue_limit=5)
    run.publish = publish
    summary = run.run(iter(items), 30)
    assert summary.sent == 30 and max(deepest) == 5


def test_send_gives_up_when_nothing_drains_the_deliver_queue(tmp_path: Path, store: Any) -> None:
    items = _items(tmp_path, 8)
    for item in items:
        store.record_inbound(
            dedupe_key=item.dedupe_key, control_id=item.control_id, sending_application="A",
            sending_facility="F", message_type="ORU^R01", raw=item.raw, ack_code="AA",
            error=None, received_at=NOW,
        )  # fmt: skip
        store.record_annotation(
            dedupe_key=item.dedupe_key, accession="x", procedure=None,
            annotation={"bme": "absent", "flags": []}, result_control_id="RF" + item.control_id,
            result_message=b"MSH|result\r",
        )  # fmt: skip
    clock = Clock()
    client = FakeRedis(clock)
    deliver = client.lists.setdefault(keys.QUEUE_DELIVER, [])
    run = _backfill(store, clock, client, [], send=True, deliver_queue_limit=3, send_stall=20.0)
    run.publish = lambda name, kwargs: deliver.append(kwargs["dedupe_key"])  # nobody takes them
    summary = run.run(iter(items), 8)
    assert summary.sent == 3 and summary.not_sent == 5
    assert 20.0 < clock.now < 25.0  # bounded by the stall time
    assert "not sent       5" in "\n".join(summary.lines())
