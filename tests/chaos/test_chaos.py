"""The chaos suite's short form, in `make test`: every fault under load, 0 acknowledged lost.

60 messages per scenario at 20 msg/s, the store down 15 s; `make chaos` runs
2,000 per scenario at 50 msg/s, the store down 5 minutes and Redis killed 20
times more. The table is printed (pytest -s, or on failure) and written to
out/chaos-short.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.harness import markdown_table
from tests.chaos.scenarios import run_suite

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

ROOT = Path(__file__).resolve().parents[2]
# A fault the sender must have noticed (it resent), so the scenario really hit it.
NOTICED_BY_SENDER = {
    "SIGKILL listener, restart",
    "SIGKILL Redis, restart",
    "SIGSTOP Redis longer than the ACK timeout",
    "SIGKILL every process, restart",
}


def test_no_acknowledged_message_is_lost_under_any_fault(tmp_path: Path) -> None:
    outcomes = run_suite(short=True, messages=60, rate=20.0, store_outage=15.0, root=tmp_path)
    table = markdown_table(outcomes)
    print("\n" + table)
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    (out / "chaos-short.md").write_text(table + "\n")
    assert len(outcomes) == 15
    for o in outcomes:
        if o.note:  # the full-disk scenario without a mountable tmpfs says why
            continue
        assert o.lost == 0, table
        assert o.acked == o.sent == 60, table  # the sender got every message in, in the end
        assert o.delivered_once + o.delivered_more + o.dead_lettered == o.acked, table
        assert o.rejected == 0, table
        if o.scenario in NOTICED_BY_SENDER:
            assert o.resends > 0, table
    by_name = {o.scenario: o for o in outcomes}
    assert by_name["destination answers AR"].dead_lettered > 0
    assert by_name["no fault"].delivered_once == 60
