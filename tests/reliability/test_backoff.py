"""resilience.backoff: restart delays, with an injected clock."""

from __future__ import annotations

import pytest

from resilience.backoff import RestartBackoff


def test_quick_failures_double_up_to_the_cap() -> None:
    policy = RestartBackoff(base=0.5, cap=4.0, stable_after=60)
    now = 100.0
    delays = []
    for _ in range(6):
        policy.started(now)
        now += 1.0  # dies a second after each start
        delay = policy.delay_after_exit(now)
        delays.append(delay)
        now += delay
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_stable_run_resets_the_delay() -> None:
    policy = RestartBackoff(base=0.5, cap=30, stable_after=60)
    policy.started(0.0)
    assert policy.delay_after_exit(1.0) == 0.5
    policy.started(1.5)
    assert policy.delay_after_exit(2.0) == 1.0
    policy.started(3.0)
    assert policy.delay_after_exit(3.0 + 60) == 0.5  # ran a minute: a fresh start


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        RestartBackoff(base=0, cap=1)
    with pytest.raises(ValueError):
        RestartBackoff(base=2, cap=1)
