"""Closure measured on a generated population of 1,000 patients (tests/followup/population.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.followup.population import SCENARIOS, generate, replay
from worker.followup_store import FollowupStore
from worker.migrations import upgrade_to_head
from worker.store import create_store_engine


@pytest.fixture
def followup_store(tmp_path: Path) -> Iterator[FollowupStore]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade_to_head(engine)
    try:
        yield FollowupStore(engine)
    finally:
        engine.dispose()


def test_population_covers_every_scenario() -> None:
    """About 1,000 patients, every scenario present, closing and non-closing ones both common."""
    population = generate(1000, seed=10)
    assert len(population.reports) == 1000
    assert set(population.scenario.values()) == {name for name, _ in SCENARIOS}
    closing = sum(population.truth.values())
    assert 250 < closing < 500
    assert len(population.messages) > 1200


def test_closure_precision_and_recall_at_least_098(followup_store: FollowupStore) -> None:
    """Orders, appointments and later reports close the right follow-ups, and only those."""
    score = replay(generate(1000, seed=10), followup_store)
    print(f"closure: tp={score.tp} fp={score.fp} fn={score.fn} "
          f"precision={score.precision:.3f} recall={score.recall:.3f}")  # fmt: skip
    assert score.precision >= 0.98
    assert score.recall >= 0.98
