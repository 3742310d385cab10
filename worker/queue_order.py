"""The order in which a worker's Redis channel asks its queues for work: live first.

kombu's Redis transport waits on all of a worker's queues with one BRPOP, which
answers from the first non-empty list in the order given. Its default
`round_robin` strategy moves the queue a message just came from to the end of
that order, so a worker on `annotate` and `backfill` would alternate between a
live report and a batch of 50 archived ones. `LiveFirstCycle` keeps that
round robin among the live queues (unchanged behaviour there) and keeps the
background queues (`backfill`) always behind them: a backfill batch is taken
only when every live queue of the worker is empty. Chosen per connection by the
broker transport option `queue_order_strategy` (kombu's `cycle_by_name` takes
a dotted path), see worker/celery_app.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from kombu.utils.scheduling import round_robin_cycle

from worker import keys

BACKGROUND_QUEUES = frozenset({keys.QUEUE_BACKFILL})


class LiveFirstCycle(round_robin_cycle):
    """Round robin among the live queues; background queues always last."""

    def update(self, it: Iterable[str]) -> None:
        super().update(it)
        self._background_last()

    def rotate(self, last_used: str) -> str:
        used: str = super().rotate(last_used)
        self._background_last()
        return used

    def _background_last(self) -> None:
        # A stable sort: the live queues keep their round-robin order.
        self.items.sort(key=lambda queue: queue in BACKGROUND_QUEUES)
