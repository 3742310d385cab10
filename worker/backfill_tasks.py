"""The backfill's Celery task: a batch of archived reports through the live path's own work.

`radflag.backfill_batch` (queue `backfill`, which every default worker consumes
after its live queues, worker/queue_order.py) takes up to a few dozen reports,
each carrying its HL7 message, so a worker on any machine can run it without the
submitter's files. For each report not already done in the store
(worker/backfill_store.py) it calls `worker.tasks.annotate_accepted`, exactly
what a live message gets: inbound record, parse, annotation, follow-up tracking,
result and store. Then it pushes a `backfill.summary.BatchReport` (counts, flag
codes, the keys it annotated) onto the run's Redis list, where
`radflag backfill` collects it.

Failures, per report: unprocessable (InboundMessageError) is recorded in the
store with its reason (so it counts as done) and counted; any other exception
is counted as failed by type and left undone (the next run tries it again).
Store unavailable (TransientError): the batch waits in its task and goes on
where it was, with capped backoff, up to `STORE_RETRIES` times (within the soft
time limit); after that the rest of the batch is reported failed. Over the
soft time limit: the rest is reported failed ("time limit"). A worker killed
mid-batch: `acks_late` and `task_reject_on_worker_lost` (worker/celery_app.py)
put the batch back, and the reports done before the kill are skipped as done;
the command also resubmits a batch not reported within its timeout. Logs name
batch ids and counts only.
"""

from __future__ import annotations

import functools
import logging
import time

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backfill.summary import BatchReport
from hl7.errors import InboundMessageError, TransientError
from worker import keys
from worker.backfill_store import done_keys, flag_counts
from worker.celery_app import app, current_settings
from worker.delivery import backoff_delay
from worker.reports import AnnotationFailed
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_models import InboundMessage

log = logging.getLogger(__name__)

STORE_RETRIES = 7  # waits of 1, 2, 4 ... s capped at store_retry_max: 3 min at most
REPORT_TTL = 7 * 86400  # seconds a run's reports stay in Redis if nobody collects them
REASON_CHARS = 200
PUSH_TRIES = 5
STORE_CHUNK = 25  # reports per store transaction (worker.tasks.annotate_accepted_many)


def reports_key(run_id: str) -> str:
    """The Redis list the batch reports of run `run_id` are pushed onto."""
    return f"{keys.BACKFILL_PREFIX}{run_id}:reports"


@functools.cache
def _client(broker_url: str, master_name: str) -> redis.Redis:
    return keys.redis_client(broker_url, timeout=5.0, master_name=master_name)


@app.task(name=keys.TASK_BACKFILL, bind=True)
def backfill_batch(
    self: Task, *, run_id: str, batch_id: str, received_at: str, items: list[dict[str, str]]
) -> None:
    """Annotate and store a batch of reports; report the counts on the run's list."""
    settings = current_settings()
    report = BatchReport(batch_id)
    handled: set[int] = set()
    try:
        for attempt in range(STORE_RETRIES + 1):
            try:
                process_batch(report, handled, items, received_at=received_at, settings=settings)
                break
            except TransientError as e:
                if attempt == STORE_RETRIES:
                    log.error("backfill batch=%s: store unavailable, giving up", batch_id)
                    report.failed["store unavailable"] += len(items) - report.items
                    break
                delay = backoff_delay(attempt + 1, base=1.0, cap=settings.store_retry_max)
                log.warning("backfill batch=%s retry in %.1f s: %s", batch_id, delay, e)
                time.sleep(delay)
    except SoftTimeLimitExceeded:
        limit = settings.effective_soft_time_limit
        report.failed[f"time limit ({limit:g} s per batch)"] += len(items) - report.items
    _push(settings, run_id, report)
    log.info(
        "backfill batch=%s annotated=%d skipped=%d unprocessable=%d failed=%d",
        batch_id, report.annotated, report.skipped, sum(report.unprocessable.values()),
        sum(report.failed.values()),
    )  # fmt: skip


def process_batch(
    report: BatchReport, handled: set[int], items: list[dict[str, str]], *, received_at: str,
    settings: Settings,
) -> None:  # fmt: skip
    """Run every report of `items` not yet done or `handled`; add the outcomes to `report`.

    `handled` holds the positions in `items` already counted. Raises
    TransientError when the store is unavailable: what was done is in `report`,
    `handled` and the store, and a second call goes on from there.
    SoftTimeLimitExceeded goes up likewise. A report twice in the batch (the
    archive held it twice) runs once; the second counts as skipped. The reports'
    store writes go STORE_CHUNK at a time, in one transaction each.
    """
    store = open_store(settings)
    new_keys: list[str] = []
    try:
        left = [item["key"] for position, item in enumerate(items) if position not in handled]
        done = done_keys(store, left)
        chunk: list[tuple[int, dict[str, str]]] = []
        for position, item in enumerate(items):
            if position in handled:
                continue
            if item["key"] in done:
                report.skipped += 1
                handled.add(position)
                continue
            done.add(item["key"])  # a second copy in the batch is skipped
            chunk.append((position, item))
            if len(chunk) == STORE_CHUNK:
                _run_chunk(report, handled, chunk, store, new_keys, received_at, settings)
                chunk = []
        if chunk:
            _run_chunk(report, handled, chunk, store, new_keys, received_at, settings)
    finally:
        if new_keys:
            try:
                report.flags.update(flag_counts(store, new_keys))
            except TransientError:
                log.warning("backfill batch=%s flags not counted", report.batch_id)


def _run_chunk(
    report: BatchReport, handled: set[int], chunk: list[tuple[int, dict[str, str]]],
    store: Store, new_keys: list[str], received_at: str, settings: Settings,
) -> None:  # fmt: skip
    """Annotate `chunk` (positions and items), its store writes together; count each outcome.

    TransientError and SoftTimeLimitExceeded go up with nothing of the chunk
    counted: a second call runs it again, and what it stored is absorbed.
    """
    from worker.tasks import annotate_accepted_many

    arguments = [
        {"raw_b64": item["raw_b64"], "control_id": item["control_id"], "dedupe_key": item["key"],
         "received_at": received_at, "ack_code": "AA"}
        for _, item in chunk
    ]  # fmt: skip
    untracked: list[int] = []
    outcomes = annotate_accepted_many(arguments, settings, archive=untracked)
    for (position, item), outcome, past in zip(chunk, outcomes, untracked, strict=True):
        key = item["key"]
        if isinstance(outcome, InboundMessageError):
            reason = f"HL7 error {outcome.hl7_error_code}: {outcome.text}"[:REASON_CHARS]
            report.unprocessable[reason] += 1
            if not isinstance(outcome, AnnotationFailed):  # radflag's fault (207): next run again
                _mark_unprocessable(store, key, reason)
        elif isinstance(outcome, Exception):  # a bug: counted, left undone, the batch goes on
            log.error(
                "backfill batch=%s report failed: %s", report.batch_id, type(outcome).__name__
            )
            report.failed[f"error: {type(outcome).__name__}"] += 1
        else:
            report.annotated += 1
            report.followups_untracked += past
            report.annotated_keys.append(key)
            new_keys.append(key)
        handled.add(position)


def _mark_unprocessable(store: Store, key: str, reason: str) -> None:
    """Note the reason on the inbound record (annotate_accepted wrote it): done, not retried."""
    try:
        with Session(store.engine) as session, session.begin():
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.dedupe_key == key)
                .values(error=f"backfill: {reason}", ack_code="AR")
            )
    except OperationalError as e:
        raise TransientError(f"message store unavailable: {e.orig!r}") from e


def _push(settings: Settings, run_id: str, report: BatchReport) -> None:
    """Hand the report to the command; Redis away: a few tries, then the task fails.

    A lost report costs nothing but counts: the command resubmits the batch after
    its timeout, and the rerun finds every report done.
    """
    client = _client(app.conf.broker_url, settings.redis_master_name)
    name = reports_key(run_id)
    for attempt in range(PUSH_TRIES):
        try:
            with client.pipeline(transaction=True) as pipe:
                pipe.rpush(name, report.to_json())
                pipe.expire(name, REPORT_TTL)
                pipe.execute()
            return
        except redis.RedisError as e:
            if attempt == PUSH_TRIES - 1:
                raise TransientError(f"backfill report not kept: {type(e).__name__}") from e
            time.sleep(backoff_delay(attempt + 1, base=0.5, cap=5.0))
