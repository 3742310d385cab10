"""The Celery tasks: thin wrappers that decode, call `hl7`/`nlp`, record, and hand on.

Strategy: only `TransientError` is retried (store or destination unavailable),
without limit and with capped backoff: a store outage of any length keeps the
message (worker/outcomes.py settles its journal entry only once the outcome is
kept; a task over its soft time limit is dead-lettered with the reason).
A message that the full parse finds unprocessable was already answered AA by
the listener (which reads MSH only), so it is dead-lettered with the reason
rather than dropped. The result's MSH-10 is derived from the inbound message's
dedupe key and receipt time: when an annotation runs twice (its worker was
killed after handing on), both runs build the same result with the same MSH-10,
so the destination can recognise a repeat.

The listener queues accepted reports in batches (`radflag.annotate_batch`, the
arguments of each in the journal; worker/intake_batches.py): their parse and NLP
run one by one, their store writes share one transaction per round of distinct
patients, their delivery attempts one more, and their journal entries settle in
one round trip.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun
from sqlalchemy.exc import IntegrityError

from hl7.errors import InboundMessageError, TransientError
from hl7.extract import extract_report
from hl7.header import parse_header
from hl7.model import MessageHeader, Report
from hl7.result import build_result
from nlp import Annotation
from worker import counters, dlq, journal, keys, outcomes
from worker.celery_app import app, current_settings, publish
from worker.delivery import (
    DeliveryError,
    DeliveryRejected,
    MllpConnections,
    backoff_delay,
    deliver,
)
from worker.followup_store import open_followups
from worker.followup_tasks import TrackedReport, plan_tracking_many, record_tracked
from worker.intake_batches import end_batch, take_batch
from worker.metrics import end_to_end_commands
from worker.reports import annotate_report
from worker.settings import Settings, _parse_hostport
from worker.store import DeliveryRecord, Store, open_store
from worker.store_feedback import record_report_details
from worker.store_unit import run_unit
from worker.tls import destination_context

log = logging.getLogger(__name__)

_STORE_RETRY_BASE = 1.0  # seconds before the first retry after a store error; doubles
_REQUEST = "worker.outcomes:OutcomeRequest"  # dead-letters tasks killed by the time limit


@functools.cache
def _metrics_client(broker_url: str) -> redis.Redis:
    # One client per process and broker; counters and latencies go to the broker's Redis.
    return keys.redis_client(broker_url, timeout=1.0)


class _PendingMetrics:
    """A task's counts and end-to-end times, sent on the round trip that settles its journal.

    Redis round trips are a good part of a message's CPU outside the NLP (each one
    a system call and a wake-up of Redis); a message used to make four for its
    metrics alone. What is left when the task ends goes in one pipeline (`flush`).
    Metrics never fail a message: errors are logged by `counters.add`.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.latencies: list[float] = []

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        self.counts[counters.counter_field(name, labels)] += amount

    def end_to_end(self, seconds: float) -> None:
        self.latencies.append(max(0.0, seconds))

    def queue(self, pipe: Any) -> None:
        """Queue every pending metric on `pipe` (call `clear` once it executed)."""
        for field, amount in self.counts.items():
            pipe.hincrby(counters.COUNTERS_KEY, field, amount)
        for seconds in self.latencies:
            end_to_end_commands(pipe, seconds)

    def clear(self) -> None:
        self.counts.clear()
        self.latencies.clear()

    def flush(self) -> None:
        if not self.counts and not self.latencies:
            return
        client = _metrics_client(app.conf.broker_url)
        try:
            pipe = client.pipeline(transaction=False)
            self.queue(pipe)
            pipe.execute()
        except (redis.RedisError, OSError) as e:
            log.warning("metrics not recorded: %s", type(e).__name__)
        self.clear()


METRICS = _PendingMetrics()  # one per process; tasks run one at a time in it


@task_postrun.connect(weak=False)
def _flush_metrics(**_: Any) -> None:
    """Whatever a task counted and did not send with its settle goes now."""
    METRICS.flush()


def _settle(entry: str) -> None:
    """Settle a journal entry, the task's pending metrics on the same round trip."""
    outcomes.settle(entry, also=METRICS.queue)
    METRICS.clear()


def _count(name: str, amount: int = 1, **labels: str) -> None:
    METRICS.count(name, amount, **labels)


@functools.cache
def _destination_context(settings: Settings) -> ssl.SSLContext | None:
    # One context per process and settings: loading the CA file is not free.
    return destination_context(settings)


def result_control_id(dedupe_key: str, received_at: str) -> str:
    """The MSH-10 of the result for one inbound message: stable across task reruns (20 chars)."""
    digest = hashlib.sha1(f"{dedupe_key}|{received_at}".encode()).hexdigest()
    return "RF" + digest[:18].upper()


def _store_retry(task: Task, error: Exception) -> Exception:
    """A retry after `error` (store or Redis unavailable): no limit, capped exponential delay."""
    delay = backoff_delay(
        task.request.retries + 1, base=_STORE_RETRY_BASE, cap=current_settings().store_retry_max
    )
    return task.retry(exc=error, countdown=delay, max_retries=None)


@app.task(name=keys.TASK_ANNOTATE, bind=True, max_retries=None, Request=_REQUEST)
def annotate_message(
    self: Task, *, raw_b64: str, control_id: str, dedupe_key: str, received_at: str, ack_code: str
) -> None:
    """Record, fully parse and annotate one accepted message; hand the result to delivery."""
    raw = base64.b64decode(raw_b64)
    settings = current_settings()
    entry = outcomes.annotate_entry(dedupe_key)
    outcomes.touch(entry)
    try:
        try:
            result_id, result = annotate_accepted(
                raw, control_id=control_id, dedupe_key=dedupe_key, received_at=received_at,
                ack_code=ack_code, settings=settings,
            )  # fmt: skip
        except InboundMessageError as e:
            log.warning(
                "unprocessable after ACK control_id=%s code=%s", control_id, e.hl7_error_code
            )
            _dead_letter_inbound(
                raw_b64, control_id, dedupe_key, "unprocessable", f"{e.hl7_error_code}: {e.text}"
            )
            return
        _hand_on(settings, result_id, result, dedupe_key, control_id, received_at)
    except TransientError as e:
        log.warning("annotate retry control_id=%s: %s", control_id, type(e).__name__)
        raise _store_retry(self, e) from e
    except SoftTimeLimitExceeded:
        limit = settings.effective_soft_time_limit
        log.error("annotate over its time limit control_id=%s (%g s)", control_id, limit)
        _dead_letter_or_store_retry(
            self, raw_b64, control_id, dedupe_key, "time limit", f"soft time limit of {limit:g} s"
        )
    except Exception as e:
        # A bug must not make an acknowledged message vanish (a failed task is
        # acknowledged): keep it where `radflag dlq` shows it. Only the type is
        # logged, since a message could quote report text.
        log.error("annotate failed control_id=%s: %s", control_id, type(e).__name__)
        _dead_letter_or_store_retry(
            self, raw_b64, control_id, dedupe_key, "failed", type(e).__name__
        )


def _hand_on(
    settings: Settings, result_id: str, result: bytes, dedupe_key: str, control_id: str,
    received_at: str, later: _Later | None = None,
) -> None:  # fmt: skip
    """After the store: settle (no destination), or send the result inline or by the queue.

    The journal entry stays until the result is delivered or dead-lettered.
    Raises TransientError when Redis cannot take the outcome. `later`: the
    delivery attempts and settles are collected there, for one transaction and
    one round trip per batch (`_Later.keep`).
    """
    if settings.destination is None:  # the outcome is the stored annotation
        if later is not None:
            later.settles.append(outcomes.annotate_entry(dedupe_key))
        else:
            _settle(outcomes.annotate_entry(dedupe_key))
        return
    delivery = {
        "result_b64": base64.b64encode(result).decode("ascii"),
        "result_control_id": result_id,
        "dedupe_key": dedupe_key,
        "control_id": control_id,
        "first_attempt_at": datetime.now(UTC).isoformat(),
        "received_at": received_at,
    }
    if settings.delivery_inline and INLINE.allowed():
        _deliver_inline(settings, result, delivery, later)
    else:
        publish(keys.TASK_DELIVER, delivery)


class _Later:
    """What a batch's messages leave to the end: delivery attempts to record, entries to settle."""

    def __init__(self) -> None:
        self.attempts: list[DeliveryRecord] = []
        self.settles: list[str] = []

    def keep(self) -> None:
        """Record the attempts in one transaction, then settle in one round trip.

        Failures are logged, not raised: the results are delivered or stored, and an
        entry left in the journal only brings its message back (same result MSH-10).
        """
        if self.attempts:
            try:
                open_store(current_settings()).record_deliveries(self.attempts)
            except TransientError as e:
                log.warning("delivery attempts not recorded count=%d: %s", len(self.attempts), e)
        if self.settles:
            try:
                outcomes.settle_many(self.settles, also=METRICS.queue)
                METRICS.clear()
            except TransientError as e:
                log.warning("journal not settled count=%d: %s", len(self.settles), e)


@app.task(name=keys.TASK_ANNOTATE_BATCH, bind=True, max_retries=None, Request=_REQUEST)
def annotate_batch(self: Task, *, batch: str, received_at: str = "") -> None:
    """Annotate the messages of an intake batch, their store writes together.

    The listener adds messages to a batch while its task waits in the queue
    (worker/listener.py, worker/intake_batches.py): the arguments of each are
    in its journal entry, written by the same atomic call that added it. The
    task takes the batch (closing it to more messages) and reads the entries;
    one no longer in the journal was settled (a rerun of this batch, or its
    message was queued again alone by the reconciler and is done): it is
    skipped. `received_at` is the first message's receipt (for the queue's age).

    Each message then ends as `annotate_message` would end it: delivered, kept,
    or dead-lettered with its reason. Store or Redis unavailable: the batch
    retries, without limit, with capped backoff (the stored messages are absorbed
    by the rerun). Over the soft time limit: each message not yet handed on is
    queued on its own, where the time limit dead-letters the one that is slow.
    """
    settings = current_settings()
    client = outcomes.broker_client()
    try:
        loaded = journal.load(client, take_batch(client, batch), touch=True)
    except redis.RedisError as e:
        raise _store_retry(self, TransientError(f"journal unavailable: {type(e).__name__}")) from e
    items = [entry.kwargs for entry in loaded if entry.task == keys.TASK_ANNOTATE]
    later = _Later()
    try:
        results = annotate_accepted_many(items, settings)
    except TransientError as e:
        log.warning("annotate batch retry size=%d: %s", len(items), type(e).__name__)
        raise _store_retry(self, e) from e
    except SoftTimeLimitExceeded:
        log.error("annotate batch over its time limit size=%d: queued one by one", len(items))
        _queue_alone(items)
        _end_batch(client, batch)
        return
    try:
        for item, outcome in zip(items, results, strict=True):
            try:
                _end_one(settings, item, outcome, later)
            except TransientError as e:
                # Stored, but Redis could not take the outcome: the journal entry stays and
                # the reconciler queues the message again (its rerun is absorbed).
                log.warning(
                    "outcome not kept control_id=%s: %s", item["control_id"], type(e).__name__
                )
    finally:  # over the time limit too: what was delivered is recorded and settled
        later.keep()
    _end_batch(client, batch)


def _end_batch(client: redis.Redis, batch: str) -> None:
    try:
        end_batch(client, batch)
    except redis.RedisError as e:  # the list expires on its own
        log.warning("batch list not removed: %s", type(e).__name__)


def _end_one(settings: Settings, item: dict[str, str], outcome: Outcome, later: _Later) -> None:
    """A batch's message after the store: delivered or kept, or dead-lettered with its reason."""
    control_id, dedupe_key, raw_b64 = item["control_id"], item["dedupe_key"], item["raw_b64"]
    if isinstance(outcome, InboundMessageError):
        log.warning(
            "unprocessable after ACK control_id=%s code=%s", control_id, outcome.hl7_error_code
        )
        detail = f"{outcome.hl7_error_code}: {outcome.text}"
        _dead_letter_inbound(raw_b64, control_id, dedupe_key, "unprocessable", detail)
    elif isinstance(outcome, Exception):
        log.error("annotate failed control_id=%s: %s", control_id, type(outcome).__name__)
        _dead_letter_inbound(raw_b64, control_id, dedupe_key, "failed", type(outcome).__name__)
    else:
        _hand_on(settings, *outcome, dedupe_key, control_id, item["received_at"], later)


def _queue_alone(items: list[dict[str, str]]) -> None:
    """Queue each message as its own annotate task (a failure leaves it to the journal)."""
    for item in items:
        try:
            publish(keys.TASK_ANNOTATE, item)
        except Exception as e:
            log.warning("not queued control_id=%s: %s", item["control_id"], type(e).__name__)


def annotate_accepted(
    raw: bytes, *, control_id: str, dedupe_key: str, received_at: str, ack_code: str,
    settings: Settings,
) -> tuple[str, bytes]:  # fmt: skip
    """Record an accepted message, parse, annotate, track and store it: (result MSH-10, result).

    Everything a message's outcome needs except the hand-on to delivery and the
    journal. The CPU work (parsing, NLP, follow-up planning, the result) comes
    first; then every row the message makes is written in one transaction
    (worker.store_unit). Raises InboundMessageError (unprocessable: the message
    is recorded, the caller dead-letters it) and TransientError (store or Redis
    unavailable: the caller retries).
    """
    prepared = _prepare(raw, control_id, dedupe_key, received_at, ack_code, settings)
    failure = _store_prepared(settings, [prepared])[0]
    if failure is not None:
        raise failure
    _finish(prepared, settings)
    assert prepared.result is not None
    return prepared.result_id, prepared.result


Outcome = tuple[str, bytes] | Exception


def annotate_accepted_many(
    items: list[dict[str, str]], settings: Settings, *, archive: list[int] | None = None
) -> list[Outcome]:
    """`annotate_accepted` for many messages, their store writes in as few transactions as it can.

    `archive`: the messages are an archive's (`radflag backfill`), so a follow-up
    whose window has ended is not tracked (`plan_tracking_many`); the list is
    extended with how many each message had, in order (0 where it failed).

    `items` are annotate task arguments (`raw_b64`, `control_id`, `dedupe_key`,
    `received_at`, `ack_code`), with distinct dedupe keys. Returns, in order, each
    message's (result MSH-10, result) or the exception it ended with
    (InboundMessageError: unprocessable, recorded; anything else: a bug). Raises
    TransientError (store or Redis unavailable: the caller runs the whole batch
    again; every write is an upsert on the dedupe key, so what was stored is
    absorbed) and SoftTimeLimitExceeded.

    The messages' rows commit together, in rounds in which no patient appears
    twice: a report's follow-up course reads the patient's earlier findings from
    the store, so a later report of the same patient waits for the earlier one's
    commit. A failure in a shared transaction writes each message on its own.
    """
    outcomes_: list[Outcome | None] = [None] * len(items)
    untracked = [0] * len(items)
    rounds: list[list[tuple[int, _Prepared]]] = []
    patients: list[set[str]] = []
    for position, item in enumerate(items):
        try:
            prepared = _prepare(
                base64.b64decode(item["raw_b64"]), item["control_id"], item["dedupe_key"],
                item["received_at"], item["ack_code"], settings, plan=False,
            )  # fmt: skip
        except (TransientError, SoftTimeLimitExceeded):
            raise
        except Exception as e:
            outcomes_[position] = e
            continue
        patient = prepared.report.patient_id
        number = next(
            (n for n, seen in enumerate(patients) if not patient or patient not in seen),
            len(rounds),
        )
        if number == len(rounds):
            rounds.append([])
            patients.append(set())
        rounds[number].append((position, prepared))
        if patient:
            patients[number].add(patient)
    for batch in rounds:  # each round reads what the earlier rounds committed
        _plan_all(settings, [prepared for _, prepared in batch], archived=archive is not None)
        failures = _store_prepared(settings, [prepared for _, prepared in batch])
        for (position, prepared), failure in zip(batch, failures, strict=True):
            if failure is not None:
                outcomes_[position] = failure
                continue
            _finish(prepared, settings)
            assert prepared.result is not None
            outcomes_[position] = (prepared.result_id, prepared.result)
            untracked[position] = prepared.tracked.untracked
    if archive is not None:
        archive.extend(untracked)
    return [o if o is not None else RuntimeError("not annotated") for o in outcomes_]


@dataclasses.dataclass
class _Prepared:
    """One message between its CPU work and its store unit."""

    raw: bytes
    control_id: str
    dedupe_key: str
    received_at: str
    ack_code: str
    report: Report
    annotation: Annotation
    tracked: TrackedReport = dataclasses.field(default_factory=lambda: TrackedReport([], []))
    result: bytes | None = None

    @functools.cached_property  # read for the result, the store and the hand-on
    def result_id(self) -> str:
        return result_control_id(self.dedupe_key, self.received_at)

    @functools.cached_property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.received_at)

    def write(self, store: Store, settings: Settings, *, claimed: bool = False) -> None:
        """Every row of the message, in the open unit of work; sets `result`.

        `claimed`: the unit already looked whether the message is new (`claim_new_many`).
        """
        report, annotation = self.report, self.annotation
        result = build_result(
            report, annotation, control_id=self.result_id, timestamp=datetime.now(UTC),
            extra_rows=self.tracked.rows,
        )  # fmt: skip
        if not claimed:
            store.claim_new(self.dedupe_key)  # a first run inserts without looking up each row
        _record_inbound(
            self.raw, self.dedupe_key, self.ack_code, None, self.received_at, report.header
        )
        record_report_details(store, report, dedupe_key=self.dedupe_key, received_at=self.at,
                              language=annotation.language)  # fmt: skip
        store.record_annotation(
            dedupe_key=self.dedupe_key,
            accession=report.accession,
            procedure=report.procedure,
            annotation=annotation.to_json_dict(),
            result_control_id=self.result_id,
            result_message=result,
            evidence={flag.code: list(flag.evidence) for flag in annotation.flags},
            report_text=report.text,
        )
        record_tracked(settings, self.tracked)
        self.result = result


def _plan_all(settings: Settings, prepared: list[_Prepared], *, archived: bool = False) -> None:
    """Plan the messages' follow-ups, the store read once for them (TransientError if down).

    `archived`: reports of a backfill (see `plan_tracking_many`).
    """
    inputs = [(one.raw, one.report, one.annotation, one.dedupe_key, one.at) for one in prepared]
    planned = plan_tracking_many(settings, inputs, archived=archived)
    for one, tracked in zip(prepared, planned, strict=True):
        one.tracked = tracked


def _prepare(
    raw: bytes, control_id: str, dedupe_key: str, received_at: str, ack_code: str,
    settings: Settings, *, plan: bool = True,
) -> _Prepared:  # fmt: skip
    """Parse, annotate and (`plan`) plan the follow-ups; an unprocessable message is recorded."""
    try:
        report = extract_report(raw)
        annotation = annotate_report(report)  # AnnotationFailed (207) is unprocessable too
    except InboundMessageError:
        _record_inbound(raw, dedupe_key, ack_code, None, received_at)
        raise
    prepared = _Prepared(raw, control_id, dedupe_key, received_at, ack_code, report, annotation)
    if plan:
        _plan_all(settings, [prepared])
    return prepared


def _store_prepared(settings: Settings, prepared: list[_Prepared]) -> list[Exception | None]:
    """Write the messages in one unit of work; per message when that fails. TransientError up.

    Returns each message's failure (None: stored). A message whose follow-up rows
    fail to store is stored without them: they must not cost it its result.
    """
    store = open_store(settings)

    def write_all() -> None:
        store.claim_new_many([one.dedupe_key for one in prepared])
        patient_keys = {
            key
            for one in prepared
            if one.tracked.exam is not None
            for key in one.tracked.exam.event.patient_keys
        }
        if patient_keys:  # their open follow-ups, read once for the batch
            open_followups(settings).remember_candidates(patient_keys)
        for one in prepared:
            one.write(store, settings, claimed=True)

    try:
        run_unit(store.engine, write_all)
        return [None] * len(prepared)
    except TransientError:
        raise
    except Exception as e:
        if len(prepared) == 1:
            return [_store_alone(store, settings, prepared[0], e)]
    failures: list[Exception | None] = []
    for one in prepared:
        try:
            run_unit(store.engine, lambda one=one: one.write(store, settings))  # type: ignore[misc]
            failures.append(None)
        except TransientError:
            raise
        except Exception as e:
            failures.append(_store_alone(store, settings, one, e))
    return failures


def _store_alone(
    store: Store, settings: Settings, prepared: _Prepared, error: Exception
) -> Exception | None:
    """After `error` storing a message: without its follow-ups, when it had any."""
    if isinstance(error, IntegrityError) or prepared.tracked.exam is None:
        return error
    log.error("follow-ups not stored control_id=%s: %s", prepared.control_id, type(error).__name__)
    prepared.tracked = TrackedReport([], [])
    try:
        run_unit(store.engine, lambda: prepared.write(store, settings))
    except TransientError:
        raise
    except Exception as e:
        return e
    return None


def _finish(prepared: _Prepared, settings: Settings) -> None:
    """After the commit: counts, the log line, the FHIR hand-on."""
    annotation = prepared.annotation
    _count("radflag_annotations_total")
    for flag in annotation.flags:
        _count("radflag_flags_total", code=flag.code)
    log.info(
        "annotated control_id=%s accession=%s bme=%s flags=%d result=%s",
        prepared.control_id,
        prepared.report.accession,
        annotation.bme,
        len(annotation.flags),
        prepared.result_id,
    )
    from worker.fhir_delivery import hand_on  # imports this module: not at the top

    hand_on(
        prepared.report, annotation, dedupe_key=prepared.dedupe_key,
        control_id=prepared.control_id, settings=settings,
        recommendations=prepared.tracked.recommendations or None,  # None: the flags' suggestions
    )  # fmt: skip
    if settings.destination is None:
        log.info(
            "result kept, no destination configured control_id=%s result=%s",
            prepared.control_id,
            prepared.result_id,
        )


def _dead_letter_or_store_retry(
    task: Task, raw_b64: str, control_id: str, dedupe_key: str, reason: str, detail: str
) -> None:
    try:
        _dead_letter_inbound(raw_b64, control_id, dedupe_key, reason, detail)
    except TransientError as e:
        raise _store_retry(task, e) from e


class InlineDelivery:
    """Whether the annotate task sends its result itself, or hands it to the deliver queue.

    Sending in the annotate task saves a Celery hop (about a third of a message's
    CPU besides the NLP), but ties the annotating process up while the
    destination answers. So the process sends inline only while the destination
    answers well: a failed attempt, or answers slower than `max_wait` seconds on
    average (an exponential average over the last ~10), pause it for `pause`
    seconds, and the deliver queue's workers, which wait on the destination in
    parallel and retry with backoff, take the results. `clock` is injected.
    """

    def __init__(
        self, *, max_wait: float = 0.02, pause: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.max_wait = max_wait
        self.pause = pause
        self.clock = clock
        self.average = 0.0
        self.paused_until = float("-inf")

    def allowed(self) -> bool:
        return self.clock() >= self.paused_until

    def answered(self, seconds: float) -> None:
        self.average = 0.9 * self.average + 0.1 * seconds
        if self.average > self.max_wait:
            self._pause()

    def failed(self) -> None:
        self._pause()

    def _pause(self) -> None:
        self.paused_until = self.clock() + self.pause
        self.average = 0.0


INLINE = InlineDelivery()  # one per process
_CONNECTIONS = MllpConnections()  # one kept connection per destination and process


def _deliver_inline(
    settings: Settings, result: bytes, delivery: dict[str, Any], later: _Later | None = None
) -> None:
    """The first delivery attempt, from the annotate task; a failure hands on to the queue.

    Raises TransientError when Redis cannot take the outcome (the task retries).
    """
    address = settings.destination_address
    assert address is not None
    result_id, dedupe_key = delivery["result_control_id"], delivery["dedupe_key"]
    record = _DeliveryRecord(dedupe_key, result_id, 1, later)
    started = time.monotonic()
    try:
        ack = deliver(address, result, result_id, timeout=settings.delivery_timeout,
                      ssl_context=_destination_context(settings),
                      connections=_CONNECTIONS)  # fmt: skip
    except DeliveryRejected as e:
        record.record("rejected", str(e))
        letter = dlq.DeadLetter(
            stage=dlq.STAGE_DELIVER, reason="rejected", detail=str(e), dedupe_key=dedupe_key,
            control_id=delivery["control_id"], message_b64=delivery["result_b64"],
            result_control_id=result_id, attempts=1,
            first_attempt_at=delivery["first_attempt_at"], destination=None,
        )  # fmt: skip
        outcomes.dead_letter(letter, outcomes.annotate_entry(dedupe_key))
        log.warning("dead-lettered result=%s control_id=%s reason=rejected entry=%s",
                    result_id, delivery["control_id"], letter.id)  # fmt: skip
        return
    except DeliveryError as e:
        INLINE.failed()
        record.record("failed", str(e))
        log.info("delivery retry result=%s attempt=1: %s", result_id, type(e).__name__)
        publish(keys.TASK_DELIVER, {**delivery, "attempts_before": 1}, countdown=_delay(1))
        return
    INLINE.answered(time.monotonic() - started)
    _delivered(record, ack.code, delivery["received_at"], delivery["control_id"], later)


def _delivered(
    record: _DeliveryRecord, code: str, received_at: str | None, control_id: str,
    later: _Later | None = None,
) -> None:  # fmt: skip
    """Keep a delivery: the attempt, the end-to-end time, the journal entry settled."""
    record.record("delivered", code)
    if received_at:  # not for a resend: its wait was the operator's, not the service's
        seconds = (datetime.now(UTC) - datetime.fromisoformat(received_at)).total_seconds()
        METRICS.end_to_end(seconds)
    log.info("delivered result=%s control_id=%s attempt=%d",
             record.result_control_id, control_id, record.attempt)  # fmt: skip
    if later is not None:
        later.settles.append(outcomes.annotate_entry(record.dedupe_key))
        return
    try:
        _settle(outcomes.annotate_entry(record.dedupe_key))
    except TransientError as e:
        # Delivered; the journal entry stays, so the result may be sent again (same MSH-10).
        log.warning("journal not settled result=%s: %s", record.result_control_id, e)


@app.task(name=keys.TASK_DELIVER, bind=True, max_retries=None, Request=_REQUEST)
def deliver_result(
    self: Task,
    *,
    result_b64: str,
    result_control_id: str,
    dedupe_key: str,
    control_id: str,
    first_attempt_at: str,
    destination: str | None = None,
    received_at: str | None = None,
    attempts_before: int = 0,
) -> None:
    """Send one result to the destination; retry with backoff; dead-letter on AR or old age.

    `destination` (HOST:PORT) overrides the results destination (overdue notifications).
    `attempts_before`: attempts made before this task (the annotate task's inline one).
    """
    settings = current_settings()
    address = _parse_hostport(destination) if destination else settings.destination_address
    message = base64.b64decode(result_b64)
    attempt = self.request.retries + 1 + attempts_before
    entry = _DeliveryRecord(dedupe_key, result_control_id, attempt)
    letter = {
        "stage": dlq.STAGE_DELIVER, "dedupe_key": dedupe_key, "control_id": control_id,
        "message_b64": result_b64, "result_control_id": result_control_id,
        "attempts": attempt, "first_attempt_at": first_attempt_at, "destination": destination,
    }  # fmt: skip
    if address is None:
        log.info("result kept, no destination configured result=%s", result_control_id)
        return
    try:
        ack = deliver(
            address,
            message,
            result_control_id,
            timeout=settings.delivery_timeout,
            ssl_context=_destination_context(settings),
            connections=_CONNECTIONS,
        )
    except DeliveryRejected as e:
        entry.record("rejected", str(e))
        _dead_letter_or_retry(
            self, attempt, dlq.DeadLetter(reason="rejected", detail=str(e), **letter)
        )
        return
    except DeliveryError as e:
        age = (datetime.now(UTC) - datetime.fromisoformat(first_attempt_at)).total_seconds()
        entry.record("failed", str(e))
        if age >= settings.delivery_max_age:
            _dead_letter_or_retry(
                self, attempt, dlq.DeadLetter(reason="exhausted", detail=str(e), **letter)
            )
            return
        log.info("delivery retry result=%s attempt=%d: %s",
                 result_control_id, attempt, type(e).__name__)  # fmt: skip
        raise self.retry(exc=e, countdown=_delay(attempt)) from e
    _delivered(entry, ack.code, received_at, control_id)


@app.task(name=keys.TASK_RECORD_REJECTED, bind=True, max_retries=None, Request=_REQUEST)
def record_rejected(
    self: Task, *, raw_b64: str, dedupe_key: str, ack_code: str, error: str, received_at: str
) -> None:
    """Record a message the listener answered AR/CR (or could not read)."""
    try:
        _record_inbound(base64.b64decode(raw_b64), dedupe_key, ack_code, error, received_at)
        _settle(journal.entry_id(keys.TASK_RECORD_REJECTED, dedupe_key))
    except TransientError as e:
        raise _store_retry(self, e) from e


def _delay(attempt: int) -> float:
    settings = current_settings()
    return backoff_delay(
        attempt, base=settings.delivery_backoff_base, cap=settings.delivery_backoff_max
    )


def _dead_letter_or_retry(task: Task, attempt: int, entry: dlq.DeadLetter) -> None:
    # The dead-letter store is in Redis: if it cannot take the entry, keep the
    # message by retrying the delivery task rather than letting it be acknowledged.
    try:
        outcomes.dead_letter(entry, outcomes.annotate_entry(entry.dedupe_key))
    except TransientError as e:
        raise task.retry(exc=e, countdown=_delay(attempt)) from e
    log.warning("dead-lettered result=%s control_id=%s reason=%s entry=%s",
                entry.result_control_id, entry.control_id, entry.reason, entry.id)  # fmt: skip


class _DeliveryRecord:
    """Writes delivery attempts to the store; a store outage must not undo a delivery.

    With `later`, the attempt is collected there and written with its batch's.
    """

    def __init__(
        self, dedupe_key: str, result_control_id: str, attempt: int, later: _Later | None = None
    ) -> None:
        self.dedupe_key = dedupe_key
        self.result_control_id = result_control_id
        self.attempt = attempt
        self.later = later

    def record(self, outcome: str, detail: str) -> None:
        _count("radflag_deliveries_total", outcome=outcome)
        if self.later is not None:
            self.later.attempts.append(
                DeliveryRecord(
                    self.dedupe_key,
                    self.result_control_id,
                    self.attempt,
                    outcome,
                    detail[:500],
                    datetime.now(UTC),
                )
            )
            return
        try:
            open_store(current_settings()).record_delivery(
                dedupe_key=self.dedupe_key,
                result_control_id=self.result_control_id,
                attempt=self.attempt,
                outcome=outcome,
                detail=detail[:500],
                at=datetime.now(UTC),
            )
        except TransientError as e:
            log.warning("delivery not recorded result=%s: %s", self.result_control_id, e)


def _record_inbound(
    raw: bytes, dedupe_key: str, ack_code: str, error: str | None, received_at: str,
    header: MessageHeader | None = None,
) -> None:  # fmt: skip
    """The inbound row of a message; `header`: its MSH when the caller has read it already."""
    try:
        header = header or parse_header(raw)
        fields: dict[str, Any] = {
            "control_id": header.control_id,
            "sending_application": header.sending_application,
            "sending_facility": header.sending_facility,
            "message_type": f"{header.message_type}^{header.trigger_event}",
        }
    except InboundMessageError:
        fields = {
            "control_id": "",
            "sending_application": "",
            "sending_facility": "",
            "message_type": "",
        }
    open_store(current_settings()).record_inbound(
        dedupe_key=dedupe_key,
        raw=raw,
        ack_code=ack_code,
        error=error,
        received_at=datetime.fromisoformat(received_at),
        **fields,
    )


def _dead_letter_inbound(
    raw_b64: str, control_id: str, dedupe_key: str, reason: str, detail: str
) -> None:
    entry = dlq.DeadLetter(
        stage=dlq.STAGE_ANNOTATE,
        reason=reason,
        detail=detail,
        dedupe_key=dedupe_key,
        control_id=control_id,
        message_b64=raw_b64,
    )
    outcomes.dead_letter(entry, outcomes.annotate_entry(dedupe_key))
