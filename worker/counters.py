"""Monotonic counters kept in Redis, so /metrics never counts from what the store still holds.

Strategy: every event is counted where it happens, in one Redis hash
(`COUNTERS_KEY`, field `name|label=value|...` -> count) in the same Redis as
the queues (AOF: the counts survive restarts; `radflag purge` never touches
them). The workers add with HINCRBY as the event happens (one pipelined round
trip); the listener, which answers thousands of messages a second, counts in
memory and adds its counts every `FLUSH_INTERVAL` seconds (a crash loses at
most that much counting, never a message), and refreshes a heartbeat key with
a TTL, from which /metrics knows how many listeners are up and how many MLLP
connections they hold. Counting never raises: metrics must not fail a message.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

COUNTERS_KEY = "radflag:metrics:counters"
LISTENER_PREFIX = "radflag:metrics:listener:"  # + host:pid -> JSON, expires
FLUSH_INTERVAL = 5.0
LISTENER_TTL = 15  # seconds: three missed flushes and the listener counts as down
LISTENER_SCAN_LIMIT = 1000  # listeners read per scrape

Labels = tuple[tuple[str, str], ...]


def counter_field(name: str, labels: Mapping[str, str] | None = None) -> str:
    """The hash field of a counter: its name and sorted labels."""
    parts = [name] + [f"{k}={v}" for k, v in sorted((labels or {}).items())]
    return "|".join(parts)


@functools.lru_cache(maxsize=1024)  # the listener's label values are bounded sets
def _field_of(name: str, labels: Labels) -> str:
    """`counter_field`, cached: the listener counts every frame."""
    return counter_field(name, dict(labels))


def parse_field(field: str) -> tuple[str, Labels]:
    """(name, labels) of a hash field written by `counter_field`."""
    name, *parts = field.split("|")
    labels = tuple(tuple(p.split("=", 1)) for p in parts if "=" in p)
    return name, labels  # type: ignore[return-value]


def add(client: redis.Redis | None, counts: Mapping[str, int]) -> bool:
    """Add `counts` (field -> amount) in one round trip; False (logged) when Redis failed."""
    if client is None or not counts:
        return client is not None
    try:
        pipe = client.pipeline(transaction=False)
        for field, amount in counts.items():
            pipe.hincrby(COUNTERS_KEY, field, amount)
        pipe.execute()
    except (redis.RedisError, OSError) as e:
        log.warning("counters not recorded: %s", type(e).__name__)
        return False
    return True


def count(client: redis.Redis | None, name: str, amount: int = 1, **labels: str) -> None:
    """Add `amount` to one counter now (workers); never raises."""
    add(client, {counter_field(name, labels): amount})


def read(client: redis.Redis) -> dict[str, dict[Labels, float]]:
    """Every counter: name -> labels -> value."""
    out: dict[str, dict[Labels, float]] = {}
    for raw_field, value in client.hgetall(COUNTERS_KEY).items():  # type: ignore[union-attr]
        field = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        name, labels = parse_field(field)
        out.setdefault(name, {})[labels] = float(value)
    return out


class ListenerCounts:
    """The listener's counts since its last flush, and its open connections."""

    def __init__(self) -> None:
        self.pending: Counter[str] = Counter()
        self.open_connections = 0
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        self.pending[_field_of(name, tuple(labels.items()))] += amount

    def add(self, field: str, amount: int = 1) -> None:
        """`count` by the counter's field (`counter_field`), found once by the caller."""
        self.pending[field] += amount

    async def flush(self, client: aioredis.Redis) -> None:
        """Add the pending counts and refresh the heartbeat; keeps the counts if Redis fails."""
        counts, self.pending = dict(self.pending), Counter()
        heartbeat = json.dumps({"open_connections": self.open_connections})
        try:
            pipe = client.pipeline(transaction=False)
            for field, amount in counts.items():
                pipe.hincrby(COUNTERS_KEY, field, amount)
            pipe.set(LISTENER_PREFIX + self.identity, heartbeat, ex=LISTENER_TTL)
            await pipe.execute()
        except (redis.RedisError, OSError) as e:
            self.pending.update(counts)  # counted again at the next flush
            log.warning("listener counters not recorded: %s", type(e).__name__)

    async def forget(self, client: aioredis.Redis) -> None:
        """On a clean stop: this listener no longer counts as up."""
        with contextlib.suppress(redis.RedisError, OSError):
            await client.delete(LISTENER_PREFIX + self.identity)


def listeners(client: redis.Redis) -> list[dict[str, Any]]:
    """The heartbeats of the listeners up now (at most LISTENER_SCAN_LIMIT)."""
    found: list[dict[str, Any]] = []
    for key in client.scan_iter(match=LISTENER_PREFIX + "*", count=100):
        raw = client.get(key)
        if raw is not None:
            try:
                found.append(json.loads(raw))  # type: ignore[arg-type]
            except ValueError:
                continue
        if len(found) >= LISTENER_SCAN_LIMIT:
            break
    return found


def zero_fill(
    values: dict[Labels, float], label_names: tuple[str, ...], known: Iterable[tuple[str, ...]]
) -> dict[Labels, float]:
    """`values` with a 0 for each known label combination not counted yet."""
    filled = dict(values)
    for combination in known:
        labels = tuple(sorted(zip(label_names, combination, strict=True)))
        filled.setdefault(labels, 0.0)
    return filled
