"""The failed-login rate limit: a rule over the times of recent failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginThrottle:
    """At most `max_failures` failed logins per key (user name, client address) per `window`."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)

    def retry_after(self, failures: list[datetime], now: datetime) -> int:
        """Seconds until a login may be tried again for a key; 0: it may now."""
        recent = sorted(t for t in failures if now - t < self.window)
        if len(recent) < self.max_failures:
            return 0
        # The oldest failure that keeps the count at the limit must leave the window.
        release = recent[-self.max_failures] + self.window
        return max(1, int((release - now).total_seconds() + 0.999))
