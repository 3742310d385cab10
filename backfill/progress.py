"""How far a backfill is: done of total, the recent rate and the time left.

Pure arithmetic on (clock time, done count) samples; the clock is injected. The
rate is over the last `window` seconds (the start of a run, when the workers
load their pipelines, does not skew the ETA for long), the overall rate before
that much time has passed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Meter:
    """Counts finished reports against a total and estimates the rate and the time left."""

    def __init__(
        self, total: int, *, window: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.done = 0
        self.window = window
        self._clock = clock
        self.started = clock()
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def restart_clock(self) -> None:
        """Count time from now (e.g. once the workers are up): the rate ignores the wait."""
        self.started = self._clock()
        self._samples = deque([(self.started, self.done)])

    def advance(self, count: int) -> None:
        self.done += count
        now = self._clock()
        self._samples.append((now, self.done))
        # Keep one sample at or before the window's start, and a bounded number in all.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()
        while len(self._samples) > 1000:
            self._samples.popleft()

    def elapsed(self) -> float:
        return self._clock() - self.started

    def rate(self) -> float:
        """Reports per second, recently; 0.0 before any is done."""
        now = self._clock()
        first_at, first_done = self._samples[0]
        span = now - first_at
        return (self.done - first_done) / span if span > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds left at the current rate; None while the rate is unknown."""
        rate = self.rate()
        if rate <= 0:
            return None
        return max(0, self.total - self.done) / rate

    def line(self) -> str:
        """`1,234/10,000 12.3% 250.0 reports/s ETA 0:00:35 elapsed 0:00:05`."""
        share = 100.0 * self.done / self.total if self.total else 100.0
        eta = self.eta()
        return (
            f"{self.done:,}/{self.total:,} {share:.1f}% {self.rate():.1f} reports/s "
            f"ETA {clock_text(eta) if eta is not None else '?'} "
            f"elapsed {clock_text(self.elapsed())}"
        )


def bar(done: int, total: int, width: int = 24) -> str:
    """`[#########...............]`: the share done, in `width` cells."""
    filled = width if total <= 0 else min(width, width * done // total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def clock_text(seconds: float) -> str:
    """H:MM:SS."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
