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

from worker import journal, keys

TAKE_SCRIPT = resources.files("worker").joinpath("batch_take.lua").read_text()


def take_batch(client: redis.Redis, batch_id: str) -> list[str]:
    """Close batch `batch_id` if it is the open one; its journal entry ids, in order."""
    script = client.register_script(TAKE_SCRIPT)
    found = script(keys=[keys.INTAKE_OPEN_KEY, keys.BATCH_PREFIX + batch_id], args=[batch_id])
    return [_text(e) for e in found]


def dedupe_keys_of_tasks(client: redis.Redis, tasks: list[bytes | str]) -> list[list[str]]:
    """The dedupe keys of the messages each queued task carries, in order.

    A lone task names its message; an annotate batch's are in its entry list.
    All the batches' lists are read in one round trip.
    """
    arguments = [keys.task_kwargs(raw) or {} for raw in tasks]
    pipe = client.pipeline(transaction=False)
    for kwargs in arguments:
        if isinstance(kwargs.get("batch"), str):
            pipe.lrange(keys.BATCH_PREFIX + kwargs["batch"], 0, -1)
    lists = iter(pipe.execute() if len(pipe) else [])
    found: list[list[str]] = []
    for kwargs in arguments:
        if isinstance(kwargs.get("batch"), str):
            entries = (journal.dedupe_key_of(_text(e)) for e in next(lists))
            found.append([key for key in entries if key])
        else:
            key = kwargs.get("dedupe_key")
            found.append([str(key)] if key else [])
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def end_batch(client: redis.Redis, batch_id: str) -> None:
    """Every message of the batch has its outcome (or is in the journal): drop its list."""
    client.delete(keys.BATCH_PREFIX + batch_id)
