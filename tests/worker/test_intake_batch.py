"""Group commit: messages arriving together are queued in one Redis write, as one batch task.

The listener's Intake against a real redis-server; the batch task in this process
against that Redis and a SQLite store. What must hold: every message is ACKed only
once Redis has it (journal entry, dedupe mark, a task that names it), duplicates
are still answered as duplicates, a broker failure reaches every waiter, and the
batch task ends each message as the single-message task would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from kombu.transport.virtual.base import Channel, Message
from sqlalchemy import select
from sqlalchemy.orm import Session

from hl7.header import parse_header
from tests.followup.messages import KNEE, LATER, report
from tests.hl7.messages import wrap_oru
from tests.servers import MllpDestination, RedisServer
from worker import celery_app, dlq, intake_batches, journal, keys, outcomes, reconciler, tasks
from worker.celery_app import BrokerUnavailable
from worker.followup_store import open_followups
from worker.intake_batches import end_batch, take_batch
from worker.listener import Intake
from worker.settings import Settings
from worker.store import DeliveryRecord, Store, open_store
from worker.store_models import DeliveryAttempt, Flag, ReportAnnotation

AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _messages(count: int, prefix: str = "GRP") -> list[bytes]:
    return [
        wrap_oru(f"Findings:\nBone marrow edema of the talus, case {n}.", control_id=f"{prefix}{n}")
        for n in range(count)
    ]


def _accept_together(
    server: RedisServer, raws: list[bytes], *, max_batch: int = 32
) -> list[bool | BaseException]:
    """Accept `raws` on the same turn of one event loop, as frames of many connections."""

    async def run() -> list[bool | BaseException]:
        client = keys.async_redis_client(server.url, timeout=5)
        intake = Intake(client, 60, max_batch=max_batch)
        try:
            return await asyncio.wait_for(
                asyncio.gather(
                    *(intake.accept(r, parse_header(r), "AA", AT) for r in raws),
                    return_exceptions=True,
                ),
                timeout=20,
            )
        finally:
            await client.aclose()

    return asyncio.run(run())


def _queued(client: redis.Redis, queue: str = keys.QUEUE_ANNOTATE) -> list[bytes]:
    return list(reversed(client.lrange(queue, 0, -1)))  # type: ignore[arg-type]


def _task(raw: bytes) -> tuple[str, dict[str, object]]:
    """(task name, kwargs) as a Celery worker reads them (kombu decodes the envelope)."""
    message = Message(json.loads(raw), channel=Channel.__new__(Channel))
    return message.headers["task"], message.decode()[1]


def _entries_of(client: redis.Redis, raw: bytes) -> list[str]:
    """The journal entry ids a queued batch task holds (without taking the batch)."""
    _, kwargs = _task(raw)
    return [e.decode() for e in client.lrange(keys.BATCH_PREFIX + str(kwargs["batch"]), 0, -1)]  # type: ignore[union-attr]


def test_messages_arriving_together_are_one_task_naming_each(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    raws = _messages(10)
    assert _accept_together(redis_server, raws) == [True] * 10
    queued = _queued(redis_client)
    assert len(queued) == 1
    name, kwargs = _task(queued[0])
    assert name == keys.TASK_ANNOTATE_BATCH
    dedupe = [parse_header(r).dedupe_key for r in raws]
    entries = _entries_of(redis_client, queued[0])
    assert entries == [outcomes.annotate_entry(k) for k in dedupe]
    assert kwargs["received_at"] == AT.isoformat()
    # Each message is in the journal with its own arguments, and marked against resends.
    loaded = journal.load(redis_client, entries)
    assert [base64.b64decode(e.kwargs["raw_b64"]) for e in loaded] == raws
    # The same arguments a message queued on its own carries (`Intake.message_kwargs`).
    assert [e.kwargs for e in loaded] == [
        Intake.message_kwargs(r, parse_header(r), "AA", AT) for r in raws
    ]
    assert all(redis_client.exists(keys.dedupe_redis_key(k)) for k in dedupe)
    # What operators and the reconciler read of a queued task.
    assert intake_batches.dedupe_keys_of_tasks(redis_client, [queued[0]])[0] == dedupe
    assert reconciler.dedupe_keys_in_flight(redis_client) == set(dedupe)
    age = keys.oldest_waiting_age(redis_client, keys.QUEUE_ANNOTATE, now=AT)
    assert age == 0.0


def test_carried_dedupe_keys_of_batches_and_lone_tasks_in_order(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    """Lone tasks and batches mixed, read in one call: each task's own keys, in queue order."""
    first = _messages(3, "MIXA")
    assert _accept_together(redis_server, first, max_batch=2) == [True] * 3
    _, lone = celery_app.task_envelope(keys.TASK_ANNOTATE, {"dedupe_key": "RIS|H|LONE1"})
    tasks = [*_queued(redis_client), lone.encode(), b"not a task"]
    found = intake_batches.dedupe_keys_of_tasks(redis_client, tasks)
    dedupe = [parse_header(r).dedupe_key for r in first]
    assert found == [dedupe[:2], dedupe[2:], ["RIS|H|LONE1"], []]


def test_messages_join_the_batch_that_waits_until_a_worker_takes_it(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    """While the workers are behind, what arrives gathers in the waiting batch (lone
    messages too); once a worker took it, the next message starts a new one."""
    first, second, third = _messages(3, "A"), _messages(1, "B"), _messages(2, "C")
    assert _accept_together(redis_server, first) == [True] * 3
    assert _accept_together(redis_server, second) == [True]  # the batch still waits
    [waiting] = _queued(redis_client)
    batch = str(_task(waiting)[1]["batch"])
    taken = take_batch(redis_client, batch)  # a worker starts it
    assert taken == [outcomes.annotate_entry(parse_header(r).dedupe_key) for r in first + second]
    assert _accept_together(redis_server, third) == [True, True]
    queued = _queued(redis_client)
    assert len(queued) == 2 and [len(_entries_of(redis_client, q)) for q in queued] == [4, 2]
    assert take_batch(redis_client, batch) == taken  # a rerun reads the same entries
    end_batch(redis_client, batch)
    assert take_batch(redis_client, batch) == []


def test_duplicates_are_answered_as_duplicates_within_and_across_writes(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    raws = _messages(4, "DUP")
    assert _accept_together(redis_server, [*raws, raws[1]]) == [True, True, True, True, False]
    assert _accept_together(redis_server, [raws[0], raws[2], *_messages(1, "NEW")]) == [
        False,
        False,
        True,
    ]
    [queued] = _queued(redis_client)  # the new one joined the waiting batch
    assert len(_entries_of(redis_client, queued)) == 5
    assert journal.size(redis_client) == 5


def test_at_most_max_batch_per_batch(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    assert _accept_together(redis_server, _messages(10, "MAX"), max_batch=4) == [True] * 10
    assert _accept_together(redis_server, _messages(1, "MAY"), max_batch=4) == [True]
    queued = _queued(redis_client)
    assert [len(_entries_of(redis_client, raw)) for raw in queued] == [4, 4, 3]
    # Built from one template, each is a task of its own: its own id, tag and batch.
    envelopes = [json.loads(raw) for raw in queued]
    assert len({e["headers"]["id"] for e in envelopes}) == 3
    assert all(e["headers"]["id"] == e["properties"]["correlation_id"] for e in envelopes)
    assert len({e["properties"]["delivery_tag"] for e in envelopes}) == 3
    assert len({str(_task(raw)[1]["batch"]) for raw in queued}) == 3


def test_broker_down_reaches_every_waiter(redis_server: RedisServer, publishing: Settings) -> None:
    raws = _messages(6, "DOWN")
    redis_server.stop()
    started = time.monotonic()
    answers = _accept_together(redis_server, raws)
    assert all(isinstance(a, BrokerUnavailable) for a in answers), answers
    assert time.monotonic() - started < 15


def test_one_intake_goes_on_after_redis_lost_its_scripts_and_dropped_its_connection(
    redis_server: RedisServer, redis_client: redis.Redis, publishing: Settings
) -> None:
    """The intake keeps its own connection for group writes: after SCRIPT FLUSH (as after a
    Redis restart) it loads the script again, after CLIENT KILL it connects again."""

    async def run() -> list[list[bool]]:
        client = keys.async_redis_client(redis_server.url, timeout=5)
        intake = Intake(client, 60)
        answers = []
        try:
            for n, disturb in enumerate(("nothing", "SCRIPT FLUSH", "CLIENT KILL", "both")):
                if disturb in ("SCRIPT FLUSH", "both"):
                    redis_client.script_flush()
                if disturb in ("CLIENT KILL", "both"):
                    redis_client.client_kill_filter(_type="normal", skipme=True)
                raws = _messages(3, f"RE{n}-")
                answers.append(
                    await asyncio.wait_for(
                        asyncio.gather(
                            *(intake.accept(r, parse_header(r), "AA", AT) for r in raws)
                        ),
                        timeout=20,
                    )
                )
        finally:
            await intake.close()
            await client.aclose()
        return answers

    assert asyncio.run(run()) == [[True] * 3] * 4
    assert journal.size(redis_client) == 12
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 12


# --- the batch task ---------------------------------------------------------------------


@pytest.fixture
def kept(tmp_path: Path, redis_server: RedisServer) -> Settings:
    """No destination: a message's outcome is its stored annotation."""
    clock = tmp_path / "clock"
    clock.write_text("2026-01-06T00:00:00+00:00")
    settings = Settings(data_dir=tmp_path / "data", followup_clock_file=clock)
    celery_app.configure(settings, redis_url=redis_server.url)
    return settings


def _batch(client: redis.Redis, raws: list[bytes], *extra_entries: str) -> str:
    """Journal `raws` and gather them in a batch, as the listener does; the batch id."""
    entries = []
    pipe = client.pipeline(transaction=True)
    for raw in raws:
        header = parse_header(raw)
        kwargs = {
            "raw_b64": base64.b64encode(raw).decode(), "control_id": header.control_id,
            "dedupe_key": header.dedupe_key, "received_at": AT.isoformat(), "ack_code": "AA",
        }  # fmt: skip
        entry = outcomes.annotate_entry(header.dedupe_key)
        journal.add_to_pipeline(pipe, entry, keys.TASK_ANNOTATE, kwargs, now=time.time())
        entries.append(entry)
    batch = f"test-{time.monotonic_ns()}"
    pipe.rpush(keys.BATCH_PREFIX + batch, *entries, *extra_entries)
    pipe.execute()
    return batch


def _flags(store: Store, raw: bytes) -> list[str] | None:
    """The stored flag codes of a message; None when it has no stored annotation."""
    key = parse_header(raw).dedupe_key
    with Session(store.engine) as session:
        found = session.scalar(select(ReportAnnotation.id).filter_by(dedupe_key=key))
        if found is None:
            return None
        return sorted(session.scalars(select(Flag.code).filter_by(annotation_id=found)))


def test_batch_task_stores_each_message_and_settles_it(
    kept: Settings, redis_client: redis.Redis
) -> None:
    raws = [report(f"B{n}", f"MRN80{n}", KNEE) for n in range(6)]
    batch = _batch(redis_client, raws, "radflag.annotate|gone|settled|X")
    tasks.annotate_batch.run(batch=batch)
    store = open_store(kept)
    for raw in raws:
        assert _flags(store, raw), "each knee report is stored, flagged"
    assert journal.size(redis_client) == 0
    assert not redis_client.exists(keys.BATCH_PREFIX + batch)  # the batch ended
    # Each report's recommendation became a follow-up of its own patient.
    assert len(open_followups(kept).listing(status="open")) == 6


def test_batch_task_dead_letters_the_unprocessable_one_and_stores_the_rest(
    kept: Settings, redis_client: redis.Redis
) -> None:
    good = [report(f"G{n}", f"MRN81{n}", KNEE) for n in range(3)]
    no_text = report("BAD1", "MRN8199", KNEE).split(b"\rOBX|")[0] + b"\r"
    tasks.annotate_batch.run(batch=_batch(redis_client, [good[0], no_text, *good[1:]]))
    letters = dlq.entries(redis_client)
    assert [(d.control_id, d.stage, d.reason) for d in letters] == [
        ("BAD1", dlq.STAGE_ANNOTATE, "unprocessable")
    ]
    store = open_store(kept)
    assert all(_flags(store, r) for r in good)
    assert _flags(store, no_text) is None
    assert journal.size(redis_client) == 0


def test_a_patients_second_report_in_the_batch_reads_the_first(
    kept: Settings, redis_client: redis.Redis
) -> None:
    """Same patient twice in one batch: the later report completes the earlier follow-up and
    its course is read against the earlier findings (the two commit in separate rounds)."""
    first = report("S1", "MRN8200", KNEE)
    later = report("S2", "MRN8200", LATER, at="20260210090000")
    other = report("S3", "MRN8201", KNEE)
    tasks.annotate_batch.run(batch=_batch(redis_client, [first, other, later]))
    followups = open_followups(kept)
    done = followups.listing(status="completed")
    assert len(done) == 1 and done[0].adherence == "adherent"
    exams, _ = followups.timeline(done[0].public_id) or ([], [])
    assert [e.course for e in exams] == [None, "progressed"] and exams[1].escalated


def _attempts(store: Store) -> list[tuple[str, int, str]]:
    with Session(store.engine) as session:
        rows = session.execute(
            select(DeliveryAttempt.dedupe_key, DeliveryAttempt.attempt, DeliveryAttempt.outcome)
        ).all()
    return sorted((key, attempt, outcome) for key, attempt, outcome in rows)


@pytest.mark.parametrize("code", ["AA", "AR"])
def test_batch_task_delivers_and_records_each_result(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis, code: str
) -> None:
    """With a destination: each result sent on the kept connection, each attempt recorded
    (one transaction for the batch), each entry settled; a rejected one dead-lettered."""
    destination = MllpDestination(code=code, validate=False).start()
    try:
        settings = Settings(data_dir=tmp_path / "data", destination=destination.address)
        celery_app.configure(settings, redis_url=redis_server.url)
        raws = [report(f"D{n}", f"MRN83{n}", KNEE) for n in range(5)]
        tasks.annotate_batch.run(batch=_batch(redis_client, raws))
        assert sorted(destination.control_ids()) == sorted(tasks.result_control_id(
            parse_header(r).dedupe_key, AT.isoformat()) for r in raws)  # fmt: skip
    finally:
        destination.stop()
    outcome = "delivered" if code == "AA" else "rejected"
    keys_ = sorted(parse_header(r).dedupe_key for r in raws)
    assert _attempts(open_store(settings)) == [(k, 1, outcome) for k in keys_]
    assert journal.size(redis_client) == 0
    letters = dlq.entries(redis_client)
    assert len(letters) == (0 if code == "AA" else 5)
    assert all(d.reason == "rejected" and d.stage == dlq.STAGE_DELIVER for d in letters)


def test_delivery_attempts_recorded_together_and_once(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    store.record_deliveries(
        [
            DeliveryRecord("K1", "R1", 1, "failed", "refused", at),
            DeliveryRecord("K2", "R2", 1, "delivered", "AA", at),
        ]
    )
    store.record_deliveries([DeliveryRecord("K1", "R1", 1, "delivered", "AA", at)])  # a rerun
    assert _attempts(store) == [("K1", 1, "delivered"), ("K2", 1, "delivered")]


def test_batch_over_its_time_limit_queues_each_message_alone(
    kept: Settings, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slow one is then dead-lettered by the single task's own limit; the others run."""

    def too_slow(items: list[dict[str, str]], settings: Settings) -> list[tasks.Outcome]:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks, "annotate_accepted_many", too_slow)
    raws = [report(f"T{n}", f"MRN84{n}", KNEE) for n in range(3)]
    tasks.annotate_batch.run(batch=_batch(redis_client, raws))
    queued = [_task(raw) for raw in _queued(redis_client)]
    assert [name for name, _ in queued] == [keys.TASK_ANNOTATE] * 3
    assert [kwargs["control_id"] for _, kwargs in queued] == ["T0", "T1", "T2"]
    assert journal.size(redis_client) == 3  # kept until each one's outcome


def test_a_group_write_packed_once_is_the_command_of_its_keys_and_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The own connection's EVALSHA (`_batch_command`, each message packed when it arrives)
    is, byte for byte, redis-py's path's keys and arguments (`_batch_script`) packed whole."""
    from worker import listener
    from worker.intake_connection import pack_command

    monkeypatch.setattr(listener, "next_batch_id", lambda: "b-1")
    monkeypatch.setattr(listener, "batch_task", lambda batch, at: ("q", f"task {batch} {at}"))
    monkeypatch.setattr(listener.time, "time", lambda: 1767605400.25)

    async def run() -> tuple[bytes, list[bytes]]:
        client = keys.async_redis_client("redis://127.0.0.1:1/0", timeout=1)  # never connected
        intake = Intake(client, 60, max_batch=8)
        raws = [*_messages(3), wrap_oru("Findings:\nNo edema.", control_id='Ä"\\1')]
        for raw in raws:
            intake.submit(raw, parse_header(raw), "CA", AT, lambda outcome: None)
        batch = intake._take()
        script_keys, script_args = intake._batch_script(batch)
        parts = [b"EVALSHA", intake._batch_sha, b"%d" % len(script_keys)]
        parts += [key.encode() for key in script_keys]
        parts += [a.encode() if isinstance(a, str) else b"%d" % a for a in script_args]
        command = intake._batch_command(batch)
        await client.aclose()
        return command, parts

    command, parts = asyncio.run(run())
    assert command == pack_command(parts)
    assert len(parts) == 3 + 5 + 4 + 8 + 3 * 4
