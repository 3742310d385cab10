"""Annotate batches as the workers see them: take one's journal entries, end it.

Strategy: the listener adds each accepted message's journal entry id to the
open batch, the one whose `radflag.annotate_batch` task still waits in the
queue (worker/intake_batch.lua). A worker that starts the task takes the batch
(worker/batch_take.lua): in one atomic call it closes the batch, if it is
still the open one, and reads its entry ids; entries added before that call
are in what it reads, and later ones go to a new batch. The list stays until
the task ends (`end_batch`), so a task run again (its worker died, or it
retries after a store outage) reads the same entries; those already settled
are no longer in the journal and are skipped.
"""

from __future__ import annotations

from importlib import resources

import redis

from worker import keys

TAKE_SCRIPT = resources.files("worker").joinpath("batch_take.lua").read_text()


def take_batch(client: redis.Redis, batch_id: str) -> list[str]:
    """Close batch `batch_id` if it is the open one; its journal entry ids, in order."""
    script = client.register_script(TAKE_SCRIPT)
    found = script(keys=[keys.INTAKE_OPEN_KEY, keys.BATCH_PREFIX + batch_id], args=[batch_id])
    return [e.decode() if isinstance(e, bytes) else str(e) for e in found]


def end_batch(client: redis.Redis, batch_id: str) -> None:
    """Every message of the batch has its outcome (or is in the journal): drop its list."""
    client.delete(keys.BATCH_PREFIX + batch_id)
