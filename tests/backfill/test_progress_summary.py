"""backfill.progress.Meter (rate over a window, ETA) and backfill.summary with injected time."""

from __future__ import annotations

from collections import Counter

import pytest

from backfill.progress import Meter, bar, clock_text
from backfill.summary import BatchReport, Summary


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_and_eta_follow_recent_progress() -> None:
    clock = FakeClock()
    meter = Meter(10_000, window=30.0, clock=clock)
    assert meter.eta() is None
    for _ in range(60):  # 100/s for a minute
        clock.now += 1.0
        meter.advance(100)
    assert meter.rate() == pytest.approx(100.0, rel=0.05)
    assert meter.eta() == pytest.approx(4000 / 100.0, rel=0.05)
    for _ in range(60):  # then 400/s: the window forgets the slow start
        clock.now += 1.0
        meter.advance(400)
    assert meter.rate() == pytest.approx(400.0, rel=0.05)
    assert meter.done == 30_000 and meter.eta() == 0.0
    line = meter.line()
    assert "30,000/10,000" in line and "reports/s" in line and "ETA 0:00:00" in line


def test_bar() -> None:
    assert bar(0, 10, 10) == "[..........]" and bar(5, 10, 10) == "[#####.....]"
    assert bar(12, 10, 10) == "[##########]" and bar(0, 0, 4) == "[####]"


def test_clock_text() -> None:
    assert clock_text(3725.4) == "1:02:05"
    assert clock_text(0) == "0:00:00"


def test_batch_report_round_trips_and_adds_up() -> None:
    report = BatchReport(
        "b1", annotated=3, skipped=1, annotated_keys=["k1", "k2", "k3"], followups_untracked=2
    )
    report.unprocessable["HL7 error 200: not a report"] += 2
    report.failed["error: ValueError"] += 1
    report.flags.update({"BME": 2})
    again = BatchReport.from_json(report.to_json())
    assert again == report and again.items == 7
    summary = Summary(items=10)
    summary.add(again)
    summary.add(BatchReport("b2", annotated=2, flags=Counter({"BME": 1, "TRAUMA_OVERLOAD": 1})))
    assert summary.finished == 9
    summary.elapsed = 2.0
    data = summary.to_json()
    assert data["annotated"] == 5 and data["not_finished"] == 1 and data["unprocessable"] == 2
    assert data["flags"] == {"BME": 3, "TRAUMA_OVERLOAD": 1} and data["reports_per_s"] == 2.5
    assert data["followups_untracked"] == 2
    text = "\n".join(summary.lines())
    assert "not finished   1" in text and "2  HL7 error 200: not a report" in text
    assert "follow-ups     2 not tracked: their window had ended" in text
    assert "follow-ups" not in "\n".join(Summary(items=1).lines())  # said only when it happened
