"""Fuzzing in the suite: every saved regression input replayed, then each Atheris target run
for a bounded time (about 50 s in all); `make fuzz` runs them longer.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fuzz import seeds, targets
from tests.servers import ROOT

# Seconds per target in the suite: the total stays under a minute.
BUDGET = {"mllp": 10, "header": 10, "extract": 12, "annotate": 12}
_RUNS = re.compile(r"stat::number_of_executed_units: (\d+)")


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_seeds_and_regressions_pass(target: str) -> None:
    inputs = seeds.seeds(target)
    assert inputs, f"no seed inputs for {target}"
    if target == "annotate":  # build both pipelines first: the first report pays for it
        targets.annotate(b"Bone marrow edema.")
        targets.annotate(b"\x00Knochenmarkoedem.")
    for data in inputs:
        started = time.monotonic()
        targets.TARGETS[target](data)
        assert time.monotonic() - started < 5, f"{target}: slow input {data[:60]!r}"


def test_found_inputs_are_refused_cleanly() -> None:
    # Inputs fuzzing found (tests/fixtures/fuzz/header/): each is now an AR, not an ACK
    # nobody can read.
    from hl7.errors import InboundMessageError
    from hl7.header import parse_header

    found = seeds.regressions("header")
    assert len(found) >= 3
    for data in found:
        with pytest.raises(InboundMessageError):
            parse_header(data)


@pytest.mark.parametrize("target", sorted(BUDGET))
def test_atheris_target_runs_clean(target: str, tmp_path: Path) -> None:
    seconds = BUDGET[target]
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.run", target, "--seconds", str(seconds),
         "--artifacts", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    found = sorted(p.name for p in tmp_path.glob(f"{target}-*"))
    assert done.returncode == 0 and not found, (
        f"{target}: libFuzzer found {found} (copy to tests/fixtures/fuzz/{target}/ once fixed)\n"
        + done.stderr[-3000:]
    )
    runs = _RUNS.search(done.stderr)
    assert runs is not None, done.stderr[-2000:]
    print(f"\nfuzz {target}: {int(runs.group(1))} executions in {seconds} s")
    assert int(runs.group(1)) > 100


def test_found_slow_nlp_input_is_fast() -> None:
    # Fuzzing found it: "$" and 64 capital S, German rules, exponential backtracking
    # (28 letters 0.3 s, 32 letters 2.3 s, 64: hours); fixed in nlp/rules/de (163e509).
    import nlp

    nlp.annotate("warm-up", language="de")
    for data in seeds.regressions("annotate"):
        started = time.monotonic()
        targets.annotate(data)
        nlp.annotate(data.decode("utf-8", "replace"), language="de")
        assert time.monotonic() - started < 1.0, data[:40]
