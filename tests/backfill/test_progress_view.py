"""The progress line of `radflag backfill`: redrawn in place on a terminal, else plain lines."""

from __future__ import annotations

import io
import sys

import pytest

from backfill.progress import Meter
from worker.cli import backfill as cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("tty", [True, False])
def test_progress_line(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    stream = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    clock = Clock()
    meter = Meter(1000, clock=clock)
    view = cli._ProgressView()
    view(meter)
    clock.now = 2.0
    meter.advance(100)
    view(meter)  # within the interval: not drawn
    view(meter, final=True)
    text = stream.getvalue()
    if tty:
        assert text.startswith("\rbackfill [" + "." * 24 + "] 0/1,000 0.0%") and "\x1b[K" in text
        assert "\rbackfill [##" + "." * 22 + "] 100/1,000 10.0% 50.0 reports/s ETA 0:00:18" in text
        assert text.endswith("\n") and text.count("\n") == 1  # one line, redrawn
    else:
        lines = text.splitlines()
        assert lines == [
            "backfill 0/1,000 0.0% 0.0 reports/s ETA ? elapsed 0:00:00",
            "backfill 100/1,000 10.0% 50.0 reports/s ETA 0:00:18 elapsed 0:00:02",
        ]
