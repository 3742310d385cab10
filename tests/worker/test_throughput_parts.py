"""The parts issue 13 added to the message path: kept MLLP connections, inline delivery's
switch, the store's unit of work, and metrics sent with the journal's settle."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from hl7.ack import build_ack
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.messages import wrap_oru
from tests.servers import start_redis
from worker import counters, journal, keys
from worker.delivery import DeliveryError, MllpConnections, deliver
from worker.settings import Settings
from worker.store import Store, create_store_engine
from worker.store_models import InboundMessage
from worker.store_unit import in_unit, known_new, run_unit, unit_of_work
from worker.tasks import InlineDelivery, _PendingMetrics

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class _Receiver:
    """An MLLP receiver that counts connections; `close_after` answers per connection."""

    def __init__(self, close_after: int | None = None) -> None:
        self.close_after = close_after
        self.connections = 0
        self.messages = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.address = ("127.0.0.1", self.server.getsockname()[1])
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        for _ in range(10_000):  # bounded: 0.2 s per turn at most
            if not self.running:
                return
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder(1 << 20)
        answered = 0
        with conn:
            conn.settimeout(5)
            for _ in range(1000):
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                for frame in decoder.feed(data):
                    self.messages += 1
                    ack = build_ack(parse_header(frame), "AA", control_id="D1", timestamp=NOW)
                    conn.sendall(encode_frame(ack))
                    answered += 1
                    if self.close_after is not None and answered >= self.close_after:
                        return  # the destination closes the connection while we keep it

    def close(self) -> None:
        self.running = False
        self.server.close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    made = _Receiver()
    yield made
    made.close()


def _message(n: int) -> tuple[bytes, str]:
    control_id = f"OUT{n:04d}"
    return wrap_oru("Findings: no edema.", control_id=control_id), control_id


def test_kept_connection_carries_message_after_message(receiver: _Receiver) -> None:
    connections = MllpConnections()
    for n in range(5):
        message, control_id = _message(n)
        ack = deliver(receiver.address, message, control_id, timeout=5, connections=connections)
        assert ack.acked_control_id == control_id
    connections.close()
    assert (receiver.messages, receiver.connections) == (5, 1)


def test_one_connection_per_message_without_a_pool(receiver: _Receiver) -> None:
    for n in range(3):
        message, control_id = _message(n)
        deliver(receiver.address, message, control_id, timeout=5)
    assert receiver.connections == 3


def test_connection_closed_by_the_destination_is_reopened() -> None:
    """A destination that drops every connection after one answer: each send still succeeds."""
    closing = _Receiver(close_after=1)
    connections = MllpConnections()
    try:
        for n in range(4):
            message, control_id = _message(n)
            ack = deliver(closing.address, message, control_id, timeout=5,
                          connections=connections)  # fmt: skip
            assert ack.acked_control_id == control_id
        assert closing.connections == 4 and closing.messages == 4  # nothing was sent twice
    finally:
        connections.close()
        closing.close()


def test_destination_gone_is_a_delivery_error() -> None:
    """The kept connection was closed and the port is down: one clear DeliveryError."""
    closing = _Receiver(close_after=1)
    connections = MllpConnections()
    try:
        deliver(closing.address, *_message(1), timeout=5, connections=connections)
        closing.close()
        with pytest.raises(DeliveryError):
            deliver(closing.address, *_message(2), timeout=2, connections=connections)
    finally:
        connections.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_inline_delivery_pauses_after_a_failure_then_resumes() -> None:
    clock = _Clock()
    inline = InlineDelivery(max_wait=0.02, pause=30, clock=clock)
    assert inline.allowed()
    inline.failed()
    assert not inline.allowed()
    clock.now += 29.9
    assert not inline.allowed()
    clock.now += 0.2
    assert inline.allowed()


def test_inline_delivery_pauses_while_the_destination_is_slow() -> None:
    clock = _Clock()
    inline = InlineDelivery(max_wait=0.02, pause=30, clock=clock)
    for _ in range(200):
        inline.answered(0.002)  # a fast destination keeps it on
    assert inline.allowed()
    answers = 0
    while inline.allowed() and answers < 100:
        inline.answered(0.5)  # half a second per ACK: the deliver queue waits in parallel
        answers += 1
    assert not inline.allowed() and answers < 10


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    from worker.migrations import upgrade_to_head

    upgrade_to_head(engine, lock_dir=tmp_path)
    made = Store(engine)
    yield made
    made.close()


def _inbound(store: Store, key: str) -> None:
    store.record_inbound(
        dedupe_key=key, control_id="C1", sending_application="RIS", sending_facility="HOSP",
        message_type="ORU^R01", raw=b"MSH|", ack_code="AA", error=None, received_at=NOW,
    )  # fmt: skip


def _count_inbound(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def test_unit_of_work_is_all_or_nothing(store: Store) -> None:
    def half_then_fail() -> None:
        _inbound(store, "K1")
        _inbound(store, "K2")
        raise RuntimeError("a bug after two writes")

    with pytest.raises(RuntimeError):
        run_unit(store.engine, half_then_fail)
    assert _count_inbound(store) == 0
    run_unit(store.engine, lambda: (_inbound(store, "K1"), _inbound(store, "K2")))
    assert _count_inbound(store) == 2
    assert not in_unit()


def test_claim_new_only_for_a_message_not_stored(store: Store) -> None:
    with unit_of_work(store.engine):
        assert store.claim_new("K1") and known_new("K1") and not known_new("K2")
        _inbound(store, "K1")
    with unit_of_work(store.engine):
        assert not store.claim_new("K1") and not known_new("K1")
        _inbound(store, "K1")  # a rerun updates the row rather than inserting a second
    assert _count_inbound(store) == 1
    with pytest.raises(RuntimeError), unit_of_work(store.engine), unit_of_work(store.engine):
        pass


def test_metrics_go_with_the_settle(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis")
    client = redis.Redis.from_url(server.url)
    try:
        journal.add_to_pipeline(client, "e1", keys.TASK_ANNOTATE, {"x": 1}, now=1.0)
        assert client.hexists(keys.JOURNAL_KEY, "e1")
        pending = _PendingMetrics()
        pending.count("radflag_annotations_total")
        pending.count("radflag_flags_total", code="BME_PRESENT")
        pending.count("radflag_flags_total", code="BME_PRESENT")
        pending.end_to_end(0.03)
        journal.settle(client, "e1", also=pending.queue)
        assert not client.hexists(keys.JOURNAL_KEY, "e1")
        read = counters.read(client)
        assert read["radflag_annotations_total"][()] == 1
        assert read["radflag_flags_total"][(("code", "BME_PRESENT"),)] == 2
        assert client.hget("radflag:metrics:end_to_end", "count") == b"1"
    finally:
        client.close()
        server.stop()


def test_settings_default_to_the_fast_path() -> None:
    settings = Settings()
    assert settings.delivery_inline is True and settings.task_events is False


def test_a_pool_process_freezes_what_it_built_before_its_first_task() -> None:
    """After the pipelines are built, what the process holds leaves the collector's scans
    (`gc.freeze`); a process that does not annotate builds and freezes nothing. Run in
    fresh interpreters: freezing this one would change its own collections."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from worker import celery_app\n"
        "if {enable}: celery_app.enable_pipeline_build()\n"
        "celery_app._build_pipeline_once()\n"
        "from nlp.pipeline import build_pipeline\n"
        "print(gc.get_freeze_count(), build_pipeline.cache_info().currsize)\n"
    )
    counts = {}
    for enable in (True, False):
        done = subprocess.run(
            [sys.executable, "-c", code.format(enable=enable)],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        frozen, pipelines = map(int, done.stdout.split())
        counts[enable] = (frozen, pipelines)
    assert counts[True][1] >= 2 and counts[True][0] > 50_000
    assert counts[False] == (0, 0)
