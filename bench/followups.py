"""Follow-up figures: recommendation sentences found (F1) and closure (precision, recall).

    python -m bench.followups [--patients 1000] [--seeds 10,11,12]

Detection is scored on the report corpora in tests/fixtures/followup/ (English,
German, and a held-out batch written after the rules were tuned); closure on
generated populations (tests/followup/population.py) replayed through the real
follow-up store (SQLite in a temporary directory). Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from followup.evaluation import score_detection
from tests.followup.population import generate, replay
from worker.followup_store import FollowupStore
from worker.migrations import upgrade_to_head
from worker.store import create_store_engine

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "followup"


def detection() -> None:
    for path in sorted(FIXTURES.glob("recommendations_*.jsonl")):
        reports = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for language in ("en", "de"):
            subset = [r for r in reports if r["language"] == language]
            if not subset:
                continue
            score, _ = score_detection(subset)
            print(
                f"detection {path.stem} {language}: reports={len(subset)} "
                f"sentences={score.tp + score.fn} tp={score.tp} fp={score.fp} fn={score.fn} "
                f"precision={score.precision:.3f} recall={score.recall:.3f} f1={score.f1:.3f}"
            )


def closure(patients: int, seeds: list[int]) -> None:
    for seed in seeds:
        population = generate(patients, seed=seed)
        with tempfile.TemporaryDirectory() as directory:
            engine = create_store_engine(f"sqlite:///{directory}/store.sqlite3")
            upgrade_to_head(engine)
            started = time.perf_counter()
            score = replay(population, FollowupStore(engine))
            elapsed = time.perf_counter() - started
            engine.dispose()
        print(
            f"closure seed={seed}: patients={patients} messages={len(population.messages)} "
            f"should_close={sum(population.truth.values())} tp={score.tp} fp={score.fp} "
            f"fn={score.fn} precision={score.precision:.3f} recall={score.recall:.3f} "
            f"({elapsed:.1f} s, {len(population.messages) / elapsed:.0f} messages/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seeds", default="10,11,12")
    args = parser.parse_args()
    detection()
    closure(args.patients, [int(s) for s in args.seeds.split(",")])


if __name__ == "__main__":
    main()
