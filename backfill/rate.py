"""A token bucket: at most `rate` events per second on average, bursts of `burst`.

For `radflag backfill --send --rate N`: results are handed to delivery no faster
than N per second. The clock is injected (time.monotonic by default), so the
limit is tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Over any span of T seconds at most `burst + rate * T` tokens are taken."""

    def __init__(
        self, rate: float, *, burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        # Default burst: a tenth of a second's worth (at least one), so a caller that
        # looks every 100 ms keeps up with the rate without sending a second's worth at once.
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")
        self._clock = clock
        self._tokens = 1.0  # the first event may go at once, the next ones wait their turn
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def available(self) -> int:
        """Whole tokens that may be taken now."""
        self._refill()
        return int(self._tokens + 1e-9)

    def take(self, count: int = 1) -> bool:
        """Take `count` tokens if there are that many now; False (nothing taken) otherwise."""
        self._refill()
        if self._tokens + 1e-9 < count:
            return False
        self._tokens -= count
        return True

    def wait_time(self, count: int = 1) -> float:
        """Seconds until `count` tokens are there (0 when they are now)."""
        self._refill()
        return max(0.0, (count - self._tokens) / self.rate)
