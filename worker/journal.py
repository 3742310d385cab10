"""The intake journal: every acknowledged message stays in Redis until its outcome is stored.

Strategy: the listener's one Lua call (worker/intake.lua) that queues a task
also writes the task's name and arguments (the raw message among them) into
the hash `keys.JOURNAL_KEY` under the entry id `<task>|<dedupe key>`, and the
time into the sorted set `keys.JOURNAL_SINCE_KEY`. The entry leaves only when
the outcome is kept for good (`settle`, `settle_with_dead_letter`):

- annotate, no destination: once the store holds the message and its annotation;
- annotate, with a destination: once the result was delivered or dead-lettered
  (so a delivery task lost in Redis is covered too);
- unprocessable, failed, timed out: in the same MULTI as the dead-letter entry;
- a rejected message (AR/CR): once the store holds it.

Whatever happens to the Celery message in between (a pop lost between
kombu's BRPOP and its `unacked` write, a task acknowledged because its worker
crashed or its retries ran out), the entry stays, and the reconciler
(worker/reconciler.py) queues it again when it has been idle long enough with
no task for it in flight. Every store write is an upsert on the dedupe key and
the result's MSH-10 is derived from it, so a second run is absorbed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from worker import dlq, keys

REQUEUE_SCRIPT = resources.files("worker").joinpath("journal_requeue.lua").read_text()


@dataclass(frozen=True)
class JournalEntry:
    """One journalled task: enough to queue it again."""

    id: str
    task: str
    kwargs: dict[str, Any]
    since: float  # last activity (queued, re-queued, started), epoch seconds


def entry_id(task: str, dedupe_key: str) -> str:
    """The journal id of `task` for the message with `dedupe_key`."""
    return f"{task}|{dedupe_key}"


def dedupe_key_of(entry: str) -> str:
    """The dedupe key in an entry id (`entry_id`'s inverse); "" when there is none."""
    return entry.split("|", 1)[1] if "|" in entry else ""


def encode(task: str, kwargs: dict[str, Any]) -> str:
    """The JSON stored for an entry.

    `raw_b64` (the message, base64 from `base64.b64encode`) goes in as it is:
    base64 needs no JSON escape, and json.dumps would check its few kilobytes
    character by character (60% of this function's time, once per message in
    the listener).
    """
    raw = kwargs.get("raw_b64")
    if not isinstance(raw, str):
        return json.dumps({"task": task, "kwargs": kwargs}, separators=(",", ":"))
    rest = json.dumps({k: v for k, v in kwargs.items() if k != "raw_b64"}, separators=(",", ":"))
    more = "," + rest[1:-1] if len(rest) > 2 else ""
    return f'{{"task":{json.dumps(task)},"kwargs":{{"raw_b64":"{raw}"{more}}}}}'


def encode_message(
    task: str, raw_b64: str, control_id: str, dedupe_key: str, received_at: str, ack_code: str
) -> str:
    """`encode` of a queued message's arguments (the listener's `message_kwargs`), in one format.

    The same text as `encode(task, {"raw_b64": ..., "control_id": ..., "dedupe_key": ...,
    "received_at": ..., "ack_code": ...})`, each string escaped by the function json.dumps
    uses for it; the listener writes one per message.
    """
    return _MESSAGE_ENTRY % (
        _json_string(task), raw_b64, _json_string(control_id), _json_string(dedupe_key),
        _json_string(received_at), _json_string(ack_code),
    )  # fmt: skip


_MESSAGE_ENTRY = (
    '{"task":%s,"kwargs":{"raw_b64":"%s","control_id":%s,"dedupe_key":%s,'
    '"received_at":%s,"ack_code":%s}}'
)
_json_string = json.encoder.encode_basestring_ascii  # json.dumps(str): quoted, ASCII


def decode(entry: str, raw: bytes | str, since: float) -> JournalEntry:
    """An entry from its stored JSON."""
    data = json.loads(raw)
    return JournalEntry(id=entry, task=data["task"], kwargs=data["kwargs"], since=since)


def size(client: redis.Redis) -> int:
    """Entries waiting for their outcome."""
    return int(client.hlen(keys.JOURNAL_KEY))  # type: ignore[arg-type]


def idle_entries(
    client: redis.Redis, *, older_than: float, now: float | None = None, limit: int = 1000
) -> list[JournalEntry]:
    """Entries with no activity for `older_than` seconds, oldest first (at most `limit`)."""
    now = time.time() if now is None else now
    found = client.zrangebyscore(
        keys.JOURNAL_SINCE_KEY, "-inf", now - older_than, start=0, num=limit, withscores=True
    )
    entries: list[JournalEntry] = []
    for member, score in found:  # type: ignore[union-attr]
        name = member.decode() if isinstance(member, bytes) else member
        raw = client.hget(keys.JOURNAL_KEY, name)
        if raw is None:  # settled meanwhile, or a stray index member
            client.zrem(keys.JOURNAL_SINCE_KEY, name)
            continue
        entries.append(decode(name, raw, float(score)))  # type: ignore[arg-type]
    return entries


def touch(client: redis.Redis, entry: str, *, now: float | None = None) -> None:
    """Record activity on an entry (a task started on it), if it is still there."""
    client.zadd(keys.JOURNAL_SINCE_KEY, {entry: time.time() if now is None else now}, xx=True)


def load(client: redis.Redis, entries: list[str], *, touch: bool = False) -> list[JournalEntry]:
    """The entries of `entries` still in the journal, in order (one round trip).

    `touch`: record activity on them too (a task started on them).
    """
    if not entries:
        return []
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.JOURNAL_KEY, entries)
    if touch:
        pipe.zadd(keys.JOURNAL_SINCE_KEY, dict.fromkeys(entries, now), xx=True)
    found = pipe.execute()[0]
    return [decode(entry, raw, now) for entry, raw in zip(entries, found, strict=True) if raw]


def settle(client: redis.Redis, entry: str, also: Callable[[Any], None] | None = None) -> None:
    """The entry's outcome is kept for good: remove it.

    `also(pipe)` may queue more commands (the task's metrics) on the same round trip.
    """
    settle_many(client, [entry], also)


def settle_many(
    client: redis.Redis, entries: list[str], also: Callable[[Any], None] | None = None
) -> None:
    """`settle` for many entries, in one transaction (one round trip)."""
    if not entries and also is None:
        return
    pipe = client.pipeline(transaction=True)
    if entries:
        pipe.hdel(keys.JOURNAL_KEY, *entries)
        pipe.zrem(keys.JOURNAL_SINCE_KEY, *entries)
    if also is not None:
        also(pipe)
    pipe.execute()


def settle_with_dead_letter(client: redis.Redis, entry: str, letter: dlq.DeadLetter) -> None:
    """Dead-letter a message and remove its journal entry in one transaction."""
    pipe = client.pipeline(transaction=True)
    dlq.add(pipe, letter)
    pipe.hdel(keys.JOURNAL_KEY, entry)
    pipe.zrem(keys.JOURNAL_SINCE_KEY, entry)
    pipe.execute()


def requeue(
    client: redis.Redis, entry: JournalEntry, queue: str, envelope: str, *, now: float
) -> bool:
    """Queue `envelope` for `entry` again unless it was settled or touched meanwhile."""
    script = client.register_script(REQUEUE_SCRIPT)
    done = script(
        keys=[keys.JOURNAL_KEY, keys.JOURNAL_SINCE_KEY, queue],
        args=[entry.id, repr(entry.since), envelope, repr(now)],
    )
    return bool(done)


def add_to_pipeline(
    pipe: Any, entry: str, task: str, kwargs: dict[str, Any], *, now: float
) -> None:
    """Journal a task in `pipe` (a MULTI), next to the LPUSH that queues it."""
    pipe.hset(keys.JOURNAL_KEY, entry, encode(task, kwargs))
    pipe.zadd(keys.JOURNAL_SINCE_KEY, {entry: now})
