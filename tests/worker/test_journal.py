"""The intake journal and its reconciler: an acknowledged message cannot vanish.

Real redis-server; the end-to-end cases run real `radflag listen` and
`radflag worker` processes and lose Celery's copy of a message on purpose
(the queue deleted, as a pop lost between kombu's BRPOP and its `unacked`
write would), or keep the store away longer than the old retry budget.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from hl7.ack import parse_ack
from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RedisServer,
    mllp_exchange,
    run_listener,
    running,
    service_env,
    start_listener,
    start_worker,
    wait_until,
)
from worker import intake_batches, journal, keys, reconciler
from worker.celery_app import task_envelope
from worker.settings import Settings

REPORT = "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\n"


def _message(n: int) -> bytes:
    return wrap_oru(REPORT, "MRI KNEE LEFT", control_id=f"JRN{n:05d}", accession=f"ACC{n}")


def test_accepted_and_rejected_messages_are_journalled(
    settings: Settings, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    async def scenario(listener: Any) -> list[bytes]:
        messages = [_message(1), _message(1), b"MSH|^~\\&|only a header"]
        return await asyncio.to_thread(mllp_exchange, listener.port, messages)

    answers = run_listener(settings, redis_server.url, scenario)
    assert [parse_ack(a).code for a in answers] == ["AA", "AA", "AR"]
    stored = redis_client.hgetall(keys.JOURNAL_KEY)
    ids = sorted(k.decode() for k in stored)
    assert len(ids) == 2  # the duplicate is not journalled twice
    accepted = journal.entry_id(keys.TASK_ANNOTATE, "RIS|GENHOSP|JRN00001")
    assert accepted in ids
    assert any(i.startswith(keys.TASK_RECORD_REJECTED + "|unreadable|") for i in ids)
    entry = json.loads(stored[accepted.encode()])
    assert entry["task"] == keys.TASK_ANNOTATE
    assert base64.b64decode(entry["kwargs"]["raw_b64"]) == _message(1)
    assert redis_client.zcard(keys.JOURNAL_SINCE_KEY) == 2


def _journal_entry(client: redis.Redis, n: int, *, at: float) -> journal.JournalEntry:
    kwargs = {
        "raw_b64": base64.b64encode(_message(n)).decode(),
        "control_id": f"JRN{n:05d}",
        "dedupe_key": f"RIS|GENHOSP|JRN{n:05d}",
        "received_at": "2026-01-01T00:00:00+00:00",
        "ack_code": "AA",
    }
    entry = journal.entry_id(keys.TASK_ANNOTATE, kwargs["dedupe_key"])
    pipe = client.pipeline(transaction=True)
    journal.add_to_pipeline(pipe, entry, keys.TASK_ANNOTATE, kwargs, now=at)
    pipe.execute()
    return journal.JournalEntry(entry, keys.TASK_ANNOTATE, kwargs, at)


def test_reconciler_requeues_only_idle_entries_with_no_task(redis_client: redis.Redis) -> None:
    now = 1_000_000.0
    lost = _journal_entry(redis_client, 1, at=now - 100)  # idle, no task anywhere
    queued = _journal_entry(redis_client, 2, at=now - 100)  # idle, but its task waits
    held = _journal_entry(redis_client, 3, at=now - 100)  # idle, a worker holds its task
    _journal_entry(redis_client, 4, at=now - 5)  # recent: left alone
    queue, envelope = task_envelope(keys.TASK_ANNOTATE, queued.kwargs)
    redis_client.lpush(queue, envelope)
    _, held_envelope = task_envelope(keys.TASK_ANNOTATE, held.kwargs)
    redis_client.hset(keys.UNACKED_KEY, "tag-3", json.dumps([json.loads(held_envelope), "", queue]))
    redis_client.zadd(keys.UNACKED_INDEX_KEY, {"tag-3": now - 10})

    report = reconciler.reconcile(redis_client, requeue_after=60, visibility_timeout=600, now=now)
    assert (report.requeued, report.idle, report.restored) == (1, 3, 0)
    waiting = [
        intake_batches.dedupe_keys_of_tasks(redis_client, [raw])[0][0]
        for raw in redis_client.lrange(queue, 0, -1)
    ]
    assert sorted(waiting) == sorted([lost.kwargs["dedupe_key"], queued.kwargs["dedupe_key"]])
    # Entries whose task is in flight go to the back of the line (a pass sees the 1,000
    # oldest): the next passes look at others first.
    assert redis_client.zscore(keys.JOURNAL_SINCE_KEY, queued.id) == now
    assert redis_client.zscore(keys.JOURNAL_SINCE_KEY, held.id) == now
    # Requeueing counts as activity: the next pass leaves it alone for another bound.
    again = reconciler.reconcile(redis_client, requeue_after=60, visibility_timeout=600, now=now)
    assert again.requeued == 0
    # Settled meanwhile: never queued again.
    journal.settle(redis_client, lost.id)
    later = reconciler.reconcile(
        redis_client, requeue_after=60, visibility_timeout=600, now=now + 120
    )
    assert later.requeued == 1  # only the recent one, idle by now; the others have tasks
    waiting = [
        intake_batches.dedupe_keys_of_tasks(redis_client, [raw])[0][0]
        for raw in redis_client.lrange(queue, 0, -1)
    ]
    assert waiting.count(lost.kwargs["dedupe_key"]) == 1
    assert waiting[0] == "RIS|GENHOSP|JRN00004"
    assert journal.size(redis_client) == 3


def test_abandoned_unacked_tasks_are_restored_after_the_visibility_timeout(
    redis_client: redis.Redis,
) -> None:
    now = 2_000_000.0
    for n, age in ((1, 700.0), (2, 30.0)):
        entry = _journal_entry(redis_client, n, at=now - age)
        _, envelope = task_envelope(keys.TASK_ANNOTATE, entry.kwargs)
        tag = f"tag-{n}"
        redis_client.hset(
            keys.UNACKED_KEY, tag, json.dumps([json.loads(envelope), "", keys.QUEUE_ANNOTATE])
        )
        redis_client.zadd(keys.UNACKED_INDEX_KEY, {tag: now - age})
    report = reconciler.reconcile(redis_client, requeue_after=3600, visibility_timeout=600, now=now)
    assert report.restored == 1
    assert redis_client.hkeys(keys.UNACKED_KEY) == [b"tag-2"]
    (restored,) = redis_client.lrange(keys.QUEUE_ANNOTATE, 0, -1)
    (carried,) = intake_batches.dedupe_keys_of_tasks(redis_client, [restored])
    assert carried[0] == "RIS|GENHOSP|JRN00001"
    assert json.loads(restored)["headers"]["redelivered"] is True
    # A restarted worker's own queues only: the deliver worker holds none of these.
    assert reconciler.restore_unacked(redis_client, older_than=None, queues={"deliver"}) == 0
    assert redis_client.hlen(keys.UNACKED_KEY) == 1
    # At start, under the data-dir lock, every unacknowledged task returns.
    assert reconciler.restore_unacked(redis_client, older_than=None) == 1
    assert redis_client.hlen(keys.UNACKED_KEY) == 0
    assert redis_client.zcard(keys.UNACKED_INDEX_KEY) == 0
    assert redis_client.llen(keys.QUEUE_ANNOTATE) == 2


def test_one_reconciler_pass_at_a_time(redis_client: redis.Redis) -> None:
    redis_client.set(keys.RECONCILE_LOCK_KEY, "another", ex=30)
    _journal_entry(redis_client, 1, at=0.0)
    report = reconciler.reconcile(redis_client, requeue_after=1, visibility_timeout=1)
    assert report.skipped and report.requeued == 0
    assert redis_client.llen(keys.QUEUE_ANNOTATE) == 0


@pytest.mark.integration
def test_a_lost_pop_is_delivered_by_the_reconciler(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    destination: MllpDestination,
) -> None:
    env = service_env(
        tmp_path / "data", redis_server.url, destination=destination.address,
        journal_requeue_after=1.0, journal_interval=0.5,
    )  # fmt: skip
    listener, port = start_listener(env, tmp_path)
    with running(listener):
        answers = mllp_exchange(port, [_message(n) for n in range(3)])
        assert [parse_ack(a).code for a in answers] == ["AA"] * 3
        assert journal.size(redis_client) == 3
        # Celery's copies vanish: what a pop lost between kombu's round trips leaves.
        assert redis_client.delete(keys.QUEUE_ANNOTATE) == 1
        worker = start_worker(env, tmp_path, queues="annotate,store,deliver", concurrency=1)
        with running(worker):
            destination.wait_for(3, timeout=60)
            wait_until(lambda: journal.size(redis_client) == 0, timeout=30, what="journal empty")
            time.sleep(1.5)  # a further reconciler pass must not send anything again
        assert "queued again" in listener.log()
    ids = destination.control_ids()
    assert len(ids) == len(set(ids)) == 3
    assert redis_client.hlen(keys.DLQ_KEY) == 0


@pytest.mark.integration
def test_a_store_outage_longer_than_the_old_retry_budget_loses_nothing(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    destination: MllpDestination,
) -> None:
    # A SQLite file in a directory that does not exist yet: "unable to open database file".
    store_dir = tmp_path / "store-not-there-yet"
    env = service_env(
        tmp_path / "data", redis_server.url, destination=destination.address,
        database_url=f"sqlite:///{store_dir / 'radflag.sqlite3'}", store_retry_max=0.3,
        journal_requeue_after=600.0,
    )  # fmt: skip
    listener, port = start_listener(env, tmp_path)
    worker = start_worker(env, tmp_path, queues="annotate,store,deliver", concurrency=1)
    with running(listener, worker):
        answers = mllp_exchange(port, [_message(n) for n in range(2)])
        assert [parse_ack(a).code for a in answers] == ["AA"] * 2
        # The old budget was 20 retries; go well past it.
        wait_until(
            lambda: sum(worker.log().count(line) for line in ("annotate retry control_id=JRN00000",
                        "annotate batch retry")) > 25,  # alone, or in a batch
            timeout=90, interval=0.2, what="more than 25 retries",
        )  # fmt: skip
        assert destination.received == []
        assert journal.size(redis_client) == 2
        store_dir.mkdir()
        destination.wait_for(2, timeout=60)
        wait_until(lambda: journal.size(redis_client) == 0, timeout=30, what="journal empty")
    assert sorted(destination.control_ids()) == sorted(set(destination.control_ids()))
    assert redis_client.hlen(keys.DLQ_KEY) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "raw_b64": base64.b64encode(wrap_oru(REPORT)).decode(),
            "control_id": "C1",
            "ack_code": "AA",
        },
        {"raw_b64": "TVNI", "control_id": 'quote " back \\ é', "dedupe_key": "RIS^H|\n"},
        {"raw_b64": "TVNI"},
        {"control_id": "no raw", "n": 3},
        {},
    ],
)
def test_entry_json_reads_back_as_written(kwargs: dict[str, Any]) -> None:
    """The entry JSON (raw_b64 written as it is, the rest escaped) decodes to the same kwargs."""
    entry = journal.encode(keys.TASK_ANNOTATE, kwargs)
    read = journal.decode("id", entry, 1.0)
    assert (read.task, read.kwargs) == (keys.TASK_ANNOTATE, kwargs)


@pytest.mark.parametrize(
    "values",
    [
        ("TVNIfF4=", "C1", "RIS|GENHOSP|C1", "2026-01-05T09:30:00+00:00", "AA"),
        ("TVNI", 'quote " back \\ é', "RIS^H|\n|x", "2026-01-05T09:30:00.123456+00:00", "CA"),
        ("", "", "||", "", ""),
        ("TVNI", "\u2028\x00\t", "ÄÖÜ|ß|\x7f", "t", "AE"),
    ],
)
def test_a_message_entry_in_one_format_is_the_entry_encode_writes(
    values: tuple[str, str, str, str, str],
) -> None:
    """The listener's one-format entry is, to the character, `encode` of the same arguments."""
    raw_b64, control_id, dedupe_key, received_at, ack_code = values
    kwargs = {
        "raw_b64": raw_b64, "control_id": control_id, "dedupe_key": dedupe_key,
        "received_at": received_at, "ack_code": ack_code,
    }  # fmt: skip
    written = journal.encode_message(keys.TASK_ANNOTATE, *values)
    assert written == journal.encode(keys.TASK_ANNOTATE, kwargs)
    assert journal.decode("id", written, 1.0).kwargs == kwargs
