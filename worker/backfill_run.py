"""The submitting side of `radflag backfill`: batches out, reports in, results on to delivery.

One loop, single-threaded, every wait bounded:

1. Fill: while fewer than `in_flight` batches are out (back-pressure: Redis
   never holds more than that many batches of this run), take the next
   `batch_size` items, drop those the store already has (skipped as done, the
   resume), and publish the rest as one `radflag.backfill_batch` task.
2. Collect: pop the batch reports the workers pushed onto the run's Redis list
   (waiting at most `poll` seconds); the first report of a batch counts, a
   later one (the batch ran twice) is ignored.
3. Resubmit: a batch not reported within `batch_timeout` seconds of its
   submission (its worker died and Redis holds its task until the visibility
   timeout, or it failed outright) is published again, at most `attempts`
   times in all; then its items count as failed.
4. Send (`--send`): the results of the reports annotated (and of those skipped
   as done that no delivery was ever attempted for) are handed to the delivery
   task, no faster than the token bucket allows and only while the deliver
   queue holds fewer than `deliver_queue_limit` (live results queue there too);
   while more than `send_backlog` wait, no new batch is submitted.

The clock and the publish/collect functions are injected, so the loop is tested
against a real Redis and workers, and its arithmetic without them.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from backfill.items import Item
from backfill.progress import Meter
from backfill.rate import TokenBucket
from backfill.summary import BatchReport, Summary
from worker import keys
from worker.backfill_state import RunState
from worker.backfill_store import done_keys, unsent_results
from worker.backfill_tasks import reports_key
from worker.store import Store


@dataclass(frozen=True)
class Options:
    batch_size: int = 50
    in_flight: int = 16
    batch_timeout: float = 360.0
    attempts: int = 3
    send: bool = False
    destination: str | None = None  # HOST:PORT given to each delivery task
    rate: float | None = None  # results per second handed to delivery; None: no limit
    poll: float = 0.2
    send_backlog: int = 5000
    # Results of this run waiting in the deliver queue, at most: live results queue behind them.
    deliver_queue_limit: int = 100
    send_stall: float = 300.0  # seconds without a result handed on: the rest is left unsent


@dataclass
class _Pending:
    kwargs: dict[str, Any]
    size: int
    submitted_at: float
    attempts: int = 1


@dataclass
class Backfill:
    """One invocation of a backfill run; `run` returns its summary."""

    state: RunState
    options: Options
    store: Store
    client: Any  # redis.Redis on the broker
    publish: Callable[[str, dict[str, Any]], None]
    clock: Callable[[], float] = time.monotonic
    on_progress: Callable[[Meter], None] = lambda _meter: None
    before_submit: Callable[[], None] = lambda: None  # e.g. start local workers
    summary: Summary = field(default_factory=Summary)
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _to_send: deque[str] = field(default_factory=deque)
    _bucket: TokenBucket | None = None
    _submitted: bool = False
    _sent_at: float = 0.0  # when a result was last handed on (or sending began)
    _started: float = 0.0
    meter: Meter | None = None

    def run(self, items: Iterator[Item], total: int) -> Summary:
        """Process `items` (`total` of them); KeyboardInterrupt leaves a resumable run."""
        self.summary.items = total
        self.meter = Meter(total, clock=self.clock)
        self._started = self.clock()
        if self.options.send and self.options.rate:
            self._bucket = TokenBucket(self.options.rate, clock=self.clock)
        source = iter(items)
        exhausted = False
        try:
            while True:
                while not exhausted and self._room():
                    batch = list(islice(source, self.options.batch_size))
                    if not batch:
                        exhausted = True
                        break
                    self._submit(batch)
                    self.on_progress(self.meter)  # a resume may skip for a while
                if exhausted and not self._pending and not self._to_send:
                    break
                self._collect()
                self._resubmit_overdue()
                self._send()
                self._give_up_stalled_send()
                self.summary.elapsed = self.clock() - self._started
                self.on_progress(self.meter)
        except KeyboardInterrupt:
            self.summary.interrupted = True
        self.summary.elapsed = self.clock() - self._started
        return self.summary

    # -- submitting --------------------------------------------------------------

    def _room(self) -> bool:
        return (
            len(self._pending) < self.options.in_flight
            and len(self._to_send) < self.options.send_backlog
        )

    def _submit(self, batch: list[Item]) -> None:
        assert self.meter is not None
        done = done_keys(self.store, [item.dedupe_key for item in batch])
        if done:
            self.summary.skipped_done += len(done)
            self.meter.advance(len(done))
            if self.options.send:
                self._to_send.extend(key for key in done)
        rest = [item for item in batch if item.dedupe_key not in done]
        if not rest:
            return
        if not self._submitted:
            self._submitted = True
            self.before_submit()  # may take a while (local workers loading their pipelines)
            self.meter.restart_clock()
            self._started = self.clock()
        batch_id = uuid.uuid4().hex[:16]
        kwargs = {
            "run_id": self.state.run_id,
            "batch_id": batch_id,
            "received_at": self.state.received_at,
            "items": [
                {
                    "key": item.dedupe_key,
                    "control_id": item.control_id,
                    "raw_b64": base64.b64encode(item.raw).decode("ascii"),
                }
                for item in rest
            ],
        }
        self.publish(keys.TASK_BACKFILL, kwargs)
        self._pending[batch_id] = _Pending(kwargs, len(rest), self.clock())

    # -- collecting --------------------------------------------------------------

    def _collect(self) -> None:
        name = reports_key(self.state.run_id)
        raw = self.client.lpop(name, 100)
        if not raw:
            popped = self.client.blpop([name], timeout=self._wait())
            raw = [popped[1]] if popped else []
        for text in raw:
            try:
                report = BatchReport.from_json(text)
            except (ValueError, KeyError, TypeError):
                continue  # not a report this version reads: its batch times out and reruns
            self._take(report)

    def _wait(self) -> float:
        """How long the collector may block: the poll interval, less when a send is due."""
        wait = self.options.poll
        if self._to_send and self._bucket is not None:
            wait = min(wait, self._bucket.wait_time())
        elif self._to_send:
            wait = 0.0
        return max(0.01, wait)

    def _take(self, report: BatchReport) -> None:
        assert self.meter is not None
        if self._pending.pop(report.batch_id, None) is None:
            return  # another run's, or this batch's second report
        self.summary.add(report)
        self.meter.advance(report.items)
        if self.options.send:
            self._to_send.extend(report.annotated_keys)

    def _resubmit_overdue(self) -> None:
        assert self.meter is not None
        now = self.clock()
        for batch_id, pending in list(self._pending.items()):
            if now - pending.submitted_at < self.options.batch_timeout:
                continue
            if pending.attempts >= self.options.attempts:
                del self._pending[batch_id]
                reason = f"not reported after {pending.attempts} submissions"
                self.summary.failed[reason] += pending.size
                self.meter.advance(pending.size)
                continue
            self.publish(keys.TASK_BACKFILL, pending.kwargs)
            pending.attempts += 1
            pending.submitted_at = now

    # -- sending -----------------------------------------------------------------

    def _give_up_stalled_send(self) -> None:
        """No result handed on for `send_stall` s (no deliverer, say): stop waiting for it."""
        if not self._to_send:
            self._sent_at = self.clock()
        elif self.clock() - self._sent_at > max(
            self.options.send_stall, 2.0 / (self.options.rate or 1.0)
        ):
            self.summary.not_sent += len(self._to_send)
            self._to_send.clear()

    def _send(self) -> None:
        bound = len(self._to_send)
        if self._bucket is not None:
            bound = min(bound, self._bucket.available())
        if bound <= 0:
            return
        # The deliver queue is the live path's too: keep what this run adds to it short.
        room = self.options.deliver_queue_limit - keys.queue_depth(self.client, keys.QUEUE_DELIVER)
        bound = min(bound, room)
        if bound <= 0:
            return
        chosen = [self._to_send.popleft() for _ in range(bound)]
        results = unsent_results(self.store, chosen)
        if self._bucket is not None and results:
            self._bucket.take(len(results))
        first_attempt_at = datetime.now(UTC).isoformat()
        for result in results:
            kwargs: dict[str, Any] = {
                "result_b64": base64.b64encode(result.result_message).decode("ascii"),
                "result_control_id": result.result_control_id,
                "dedupe_key": result.dedupe_key,
                "control_id": result.control_id,
                "first_attempt_at": first_attempt_at,
            }
            if self.options.destination:
                kwargs["destination"] = self.options.destination
            # No received_at: the end-to-end latency histogram is the live path's.
            self.publish(keys.TASK_DELIVER, kwargs)
            self.summary.sent += 1
        self._sent_at = self.clock()
