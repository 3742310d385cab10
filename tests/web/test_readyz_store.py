"""/readyz checks the message store: a store outage means "not ready", whatever Redis says."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.web.server import serving
from tests.worker.conftest import redis_server  # noqa: F401  (fixture)
from worker.redis_server import RedisServer
from worker.settings import Settings
from worker.web.app import create_app


def test_readyz_reports_the_store(tmp_path: Path, redis_server: RedisServer) -> None:  # noqa: F811
    store_dir = tmp_path / "store-not-there-yet"
    settings = Settings(
        data_dir=tmp_path / "data",
        redis_url=redis_server.url,
        database_url=f"sqlite:///{store_dir / 'radflag.sqlite3'}",
    )
    with serving(create_app(settings)) as base_url:
        down = httpx.get(base_url + "/readyz", timeout=10)
        assert down.status_code == 503
        body = down.json()
        assert body["redis"] is True and body["store"] is False
        assert body["error"].startswith("store unavailable: ")
        store_dir.mkdir()
        up = httpx.get(base_url + "/readyz", timeout=10).json()
    assert up["store"] is True and up["redis"] is True
    # Still 503 here: no worker runs in this test; the store is no longer the reason.
    assert up["ready"] is False and up["workers"] == 0 and up["error"] is None
