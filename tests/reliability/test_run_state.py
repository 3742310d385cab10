"""worker.run_state and /readyz: parts being restarted under `radflag run` make it not ready."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.web.server import serving
from worker import run_state
from worker.settings import Settings
from worker.web.app import create_app


def test_state_round_trip_and_down_parts(tmp_path: Path) -> None:
    assert run_state.read(tmp_path) is None
    run_state.write(tmp_path, {"listener": "running", "redis": "restarting"})
    assert run_state.read(tmp_path) == {"listener": "running", "redis": "restarting"}
    assert run_state.down(run_state.read(tmp_path)) == ["redis"]
    run_state.state_file(tmp_path).write_text("{not json")
    assert run_state.read(tmp_path) is None
    run_state.remove(tmp_path)
    assert not run_state.state_file(tmp_path).exists()


def test_readyz_names_the_parts_being_restarted(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    run_state.write(tmp_path, {"listener": "running", "worker-annotate": "restarting"})
    with serving(create_app(settings)) as base:
        response = httpx.get(base + "/readyz", timeout=30)
        assert response.status_code == 503
        assert response.json()["restarting"] == ["worker-annotate"]
        run_state.write(tmp_path, {"listener": "running", "worker-annotate": "running"})
        assert httpx.get(base + "/readyz", timeout=30).json()["restarting"] == []
