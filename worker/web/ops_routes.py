"""/metrics, /healthz and /readyz: no health data, so no login (Prometheus scrapes them)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from worker import metrics, run_state, status, store_health
from worker.settings import Settings
from worker.store import Store


def add_ops_routes(app: FastAPI, settings: Settings, get_store: Callable[[], Store]) -> None:
    """Register the operations endpoints on `app`."""

    def store_or_none() -> Store | None:
        try:
            return get_store()
        except Exception:
            return None

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok\n"

    @app.get("/readyz")
    def readyz() -> Response:
        # Half a second: probes (e.g. Kubernetes) give up after one by default.
        reading = status.gather(settings, store=None, ping_timeout=0.5)
        store_error = store_health.probe(get_store, timeout=0.5)
        # Under `radflag run`: parts down and being restarted make it not ready.
        parts_down = run_state.down(run_state.read(settings.data_dir))
        ready = reading.ready and store_error is None and not parts_down
        body = {
            "ready": ready,
            "redis": reading.redis_ok,
            "workers": len(reading.workers),
            "store": store_error is None,
            "error": reading.redis_error or store_error,
            "restarting": parts_down,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.render(settings, store_or_none()), media_type=metrics.CONTENT_TYPE)
