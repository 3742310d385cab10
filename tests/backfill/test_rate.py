"""backfill.rate.TokenBucket against an injected clock: no sleeping, exact arithmetic."""

from __future__ import annotations

import pytest

from backfill.rate import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_token_at_first_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, burst=1, clock=clock)
    assert bucket.take()
    assert not bucket.take()
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.now += 0.05
    assert not bucket.take()
    clock.now += 0.05
    assert bucket.take()


@pytest.mark.parametrize(("rate", "burst"), [(5.0, None), (50.0, None), (20.0, 4.0), (0.5, 1.0)])
def test_never_more_than_burst_plus_rate_times_span(rate: float, burst: float | None) -> None:
    # A greedy taker that looks every 7 ms for 30 simulated seconds.
    clock = FakeClock()
    bucket = TokenBucket(rate, burst=burst, clock=clock)
    taken: list[float] = []
    for _ in range(int(30 / 0.007)):
        while bucket.take():
            taken.append(clock.now)
        clock.now += 0.007
    span = clock.now - 100.0
    assert len(taken) <= bucket.burst + rate * span
    assert len(taken) >= rate * span * 0.95  # and it does keep up with the rate
    # Every window of one second holds at most burst + rate tokens.
    for i, start in enumerate(taken):
        inside = sum(1 for t in taken[i:] if t < start + 1.0)
        assert inside <= bucket.burst + rate + 1e-9


def test_available_counts_whole_tokens_and_take_many() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100.0, burst=10, clock=clock)
    bucket.take()
    clock.now += 1.0
    assert bucket.available() == 10  # capped at the burst
    assert bucket.take(10)
    assert bucket.available() == 0
    assert not bucket.take(1)


def test_idle_time_does_not_save_up_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock)
    clock.now += 3600
    assert bucket.available() == 1  # default burst for 2/s: one


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate)
