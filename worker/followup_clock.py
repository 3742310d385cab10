"""The clock of the follow-up logic: the system's, or a file's for tests and drills.

Strategy: time-dependent code takes a clock (a function returning an aware
datetime) rather than calling `datetime.now`. The service's clock is chosen
once from the settings: with `followup_clock_file` set, "now" is the ISO 8601
time written in that file, read at each call, so a test (or a drill on a
staging system) moves time by rewriting the file, and a real Celery beat and
real workers see it, without anyone sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hl7.errors import TransientError
from worker.settings import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def file_clock(path: Path) -> Clock:
    """A clock that reads an ISO 8601 time from `path` at each call (no zone: UTC).

    Raises TransientError when the file is missing or unreadable (a task retries).
    """

    def now() -> datetime:
        try:
            moment = datetime.fromisoformat(path.read_text().strip())
        except (OSError, ValueError) as e:
            raise TransientError(f"follow-up clock file unusable: {type(e).__name__}") from e
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    return now


def clock_for(settings: Settings) -> Clock:
    """The clock `settings` ask for."""
    if settings.followup_clock_file is not None:
        return file_clock(settings.followup_clock_file)
    return system_clock
