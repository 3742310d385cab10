"""When to restart a process that died: capped exponential backoff, reset once it ran stably.

Pure: the caller passes the time (an injected clock), so the policy is tested
without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RestartBackoff:
    """Delays for restarting one process.

    The first restart waits `base` seconds, each quick failure doubles it up
    to `cap`; a process that ran `stable_after` seconds before dying starts
    over at `base` (a crash once a day is not a crash loop).
    """

    base: float = 0.5
    cap: float = 30.0
    stable_after: float = 60.0
    failures: int = 0
    started_at: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("need 0 < base <= cap")

    def started(self, now: float) -> None:
        """The process was (re)started at `now`."""
        self.started_at = now

    def delay_after_exit(self, now: float) -> float:
        """Seconds to wait before the next start, the process having exited at `now`."""
        if self.started_at is not None and now - self.started_at >= self.stable_after:
            self.failures = 0
        delay = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return delay
