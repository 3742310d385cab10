"""The run's state file (resume) and the queue order that keeps live queues before backfill."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kombu.utils.scheduling import cycle_by_name

from worker import celery_app, keys
from worker.backfill_state import StateError, default_state_path, load_or_start, save
from worker.settings import Settings


def test_a_run_is_resumed_until_it_finished(tmp_path: Path) -> None:
    files = [tmp_path / "a.hl7", tmp_path / "b.jsonl"]
    path = default_state_path(tmp_path / "data", files)
    assert path.parent == tmp_path / "data" / "backfill"
    assert default_state_path(tmp_path / "data", files[::-1]) != path  # other inputs, other run
    first, resumed = load_or_start(path, files, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert not resumed and first.received_at == "2026-01-02T00:00:00+00:00"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, resumed = load_or_start(path, files)
    assert resumed and again.run_id == first.run_id and again.received_at == first.received_at
    assert again.invocations == 2
    again.finished = True
    save(path, again)
    fresh, resumed = load_or_start(path, files)
    assert not resumed and fresh.run_id != first.run_id


def test_a_damaged_state_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"run_id": "x"}))
    with pytest.raises(StateError, match=r"state.json: not a backfill state file.*remove it"):
        load_or_start(path, [])


def test_live_queues_round_robin_and_backfill_always_last() -> None:
    cycle = cycle_by_name(celery_app.QUEUE_ORDER)()
    cycle.update([keys.QUEUE_BACKFILL, keys.QUEUE_ANNOTATE, keys.QUEUE_STORE])
    assert cycle.consume(3) == ["annotate", "store", "backfill"]
    cycle.rotate("annotate")  # live queues still take turns (kombu's round robin) ...
    assert cycle.consume(3) == ["store", "annotate", "backfill"]
    cycle.rotate("backfill")  # ... and a batch taken never puts backfill before them
    assert cycle.consume(3) == ["store", "annotate", "backfill"]


def test_the_broker_is_configured_with_that_order(tmp_path: Path) -> None:
    app = celery_app.configure(Settings(data_dir=tmp_path), redis_url="redis://127.0.0.1:1/0")
    options = app.conf.broker_transport_options
    assert options["queue_order_strategy"] == "worker.queue_order:LiveFirstCycle"
    assert app.conf.task_routes[keys.TASK_BACKFILL] == {"queue": "backfill"}


def test_every_default_worker_consumes_backfill_after_the_live_queues(tmp_path: Path) -> None:
    from worker.cli import main
    from worker.supervisor import plan_children

    default = next(p for p in main.commands["worker"].params if p.name == "queues").default
    assert default == "annotate,deliver,store,backfill"
    annotating = next(c for c in plan_children(Settings(data_dir=tmp_path), with_web=False)
                      if c.name == "worker-annotate")  # fmt: skip
    assert annotating.args[annotating.args.index("--queues") + 1] == "annotate,store,backfill"
