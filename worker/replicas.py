"""ACK only what replicas hold: Redis' WAIT after the intake write (`redis_min_replicas`).

Strategy: Redis replication is asynchronous, so a primary that dies right
after answering can take acknowledged messages with it when a replica is
promoted. With `redis_min_replicas=N` the listener sends `WAIT N timeout` on
the same connection right after the intake script; WAIT returns how many
replicas have acknowledged every write this connection made so far. Fewer
than N within `redis_replica_timeout`: the message is not acknowledged
(AE/CE), the sender resends, and the resend is absorbed as a duplicate if the
first copy survived, or queued again if the failover lost it.

A duplicate writes nothing, and WAIT on a connection with no new write
says nothing about the first copy, so for a duplicate one small write (a
counter) goes first: replication is ordered, and a replica that has the
counter's increment has everything the primary had before it, the first
copy included.
"""

from __future__ import annotations

from typing import Any

import redis

PROBE_KEY = "radflag:replication:probe"


class ReplicasNotConfirmed(redis.ConnectionError):
    """Fewer replicas than required confirmed the write in time (a ConnectionError: AE/CE)."""


class ReplicaConfirmation:
    """`confirm(conn)` raises ReplicasNotConfirmed unless `min_replicas` replicas have the write."""

    def __init__(self, min_replicas: int, timeout: float) -> None:
        self.min_replicas = min_replicas
        self.timeout_ms = max(1, int(timeout * 1000))

    @property
    def required(self) -> bool:
        return self.min_replicas > 0

    async def confirm(self, conn: Any, *, wrote: bool) -> int:
        """WAIT on `conn` (the connection that wrote); return the replicas that confirmed."""
        if not wrote:
            await conn.incr(PROBE_KEY)
        confirmed = int(await conn.execute_command("WAIT", self.min_replicas, self.timeout_ms))
        if confirmed < self.min_replicas:
            raise ReplicasNotConfirmed(
                f"{confirmed} of {self.min_replicas} replicas confirmed within {self.timeout_ms} ms"
            )
        return confirmed
