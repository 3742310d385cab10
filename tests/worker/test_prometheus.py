"""The alert rules under promtool, and a real Prometheus scraping a running `radflag run`."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis

from hl7.ack import parse_ack
from tests.conftest import ROOT
from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    mllp_exchange,
    running,
    service_env,
    start_redis,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

RULES = ROOT / "deploy" / "prometheus"
REPORT = "Findings:\nBone marrow edema in the medial femoral condyle."


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} missing: run scripts/install-system-deps (Debian package prometheus)"
    return found


def test_promtool_checks_the_rules_and_config() -> None:
    """`promtool check rules` and `check config` accept what deploy/prometheus ships."""
    for args in (
        ["check", "rules", "radflag-alerts.yml"],
        ["check", "config", "prometheus.yml"],
    ):
        done = subprocess.run(
            [_tool("promtool"), *args], cwd=RULES, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_of_the_alerts() -> None:
    """Each alert stays silent before its condition, fires once while it holds, resolves."""
    done = subprocess.run(
        [_tool("promtool"), "test", "rules", "radflag-alerts.test.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tested = (RULES / "radflag-alerts.test.yml").read_text()
    for rule in ("RadflagQueueBacklog", "RadflagOldestMessageWaiting", "RadflagDeadLettersGrowing",
                 "RadflagDestinationFailing", "RadflagNoWorkers", "RadflagListenerDown",
                 "RadflagFollowupsOverdue"):  # fmt: skip
        assert f"name: {rule}" in tested


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _value(base: str, expr: str) -> float | None:
    result = _query(base, expr)
    return float(result[0]["value"][1]) if result else None


def test_real_prometheus_scrapes_a_running_radflag(
    tmp_path: Path, destination: MllpDestination
) -> None:
    """Prometheus scrapes `radflag run`'s /metrics, loads the rules and sees the series move."""
    mllp_port, http_port, prom_port = free_port(), free_port(), free_port()
    env = service_env(
        tmp_path / "data", None, destination=destination.address, mllp_port=mllp_port,
        http_port=http_port, concurrency=1, delivery_concurrency=1,
    )  # fmt: skip
    config = tmp_path / "prometheus.yml"
    shutil.copy(RULES / "radflag-alerts.yml", tmp_path / "radflag-alerts.yml")
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [radflag-alerts.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: radflag\n    static_configs: [{{targets: ['127.0.0.1:{http_port}']}}]\n"
    )
    run = RadflagProcess("run", ["run"], env, tmp_path / "run.log").start()
    with running(run), (tmp_path / "prometheus.log").open("wb") as prom_log:
        prometheus = subprocess.Popen(
            [_tool("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=prom_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{prom_port}"
            wait_until(lambda: accepts(mllp_port), timeout=90, what="the MLLP port")
            answers = mllp_exchange(mllp_port, [wrap_oru(REPORT, "MRI KNEE", control_id="PROM1")])
            assert parse_ack(answers[0]).code == "AA"
            destination.wait_for(1, timeout=120)
            wait_until(lambda: accepts(prom_port), timeout=60, what="Prometheus")

            def scraped() -> bool:
                # The listener adds its counts every 5 s: wait for them as well.
                delivered = _value(base, 'radflag_end_to_end_seconds_count{job="radflag"}')
                accepted = _value(base, 'radflag_mllp_frames_total{outcome="accepted"}')
                # ... and the workers' heartbeats, which a loaded machine may scrape late.
                alive = _value(base, "radflag_workers_alive") or 0
                return delivered == 1.0 and accepted == 1.0 and alive >= 2

            wait_until(scraped, timeout=90, interval=1.0, what="the delivery in Prometheus")
            assert _value(base, "radflag_annotations_total") == 1.0
            assert _value(base, 'radflag_deliveries_total{outcome="delivered"}') == 1.0
            assert _value(base, 'radflag_deliveries_total{outcome="failed"}') == 0.0
            assert _value(base, "radflag_listeners_up") == 1.0
            assert (_value(base, "radflag_workers_alive") or 0) >= 2
            assert _value(base, "radflag_build_info") == 1.0
            assert (_value(base, "process_resident_memory_bytes") or 0) > 0
            assert _value(base, 'up{job="radflag"}') == 1.0
            with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=5) as answer:
                groups = json.load(answer)["data"]["groups"]
            rules = {r["name"]: r for g in groups for r in g["rules"]}
            assert "RadflagListenerDown" in rules and rules["RadflagListenerDown"]["health"] == "ok"
            assert all(r["health"] == "ok" for r in rules.values()), rules
            time.sleep(2)  # a few evaluations: a healthy service fires nothing
            firing = _query(base, 'ALERTS{alertstate="firing"}')
            assert firing == [], firing
        finally:
            prometheus.terminate()
            prometheus.wait(30)


def test_grafana_dashboard_queries_real_metrics() -> None:
    """The dashboard is valid JSON, and each query names metrics radflag exposes."""
    from worker.metrics import COUNTERS

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "radflag-dashboard.json").read_text())
    exposed = {name for name, *_ in COUNTERS} | {
        "radflag_queue_depth", "radflag_oldest_waiting_seconds", "radflag_workers_alive",
        "radflag_listeners_up", "radflag_redis_up", "radflag_end_to_end_seconds_bucket",
        "radflag_dead_letters", "radflag_mllp_connections_open", "radflag_flagged_unreviewed",
        "radflag_task_duration_seconds_bucket", "process_resident_memory_bytes",
        "radflag_followups_overdue",  # issue 10's metric; the panel shows nothing until then
    }  # fmt: skip
    metrics_text = (ROOT / "worker" / "metrics.py").read_text()
    seen = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"\b((?:radflag|process)_[a-z_]+)", target["expr"]))
            assert names and names <= exposed, (panel["title"], names - exposed)
            seen |= names
    for name in seen - {"radflag_followups_overdue", "process_resident_memory_bytes"}:
        assert name.removesuffix("_bucket").removesuffix("_total") in metrics_text, name


def test_flower_turns_task_events_on_in_a_running_worker(tmp_path: Path) -> None:
    """Task events are off by default (they cost worker CPU); Flower's `enable_events`
    broadcast, which it repeats while it runs, turns them on in a running worker."""
    import base64
    import socket
    import threading

    from worker import celery_app, keys
    from worker.settings import Settings

    server = start_redis(tmp_path / "redis")
    env = service_env(tmp_path / "data", server.url)
    worker = start_worker(env, tmp_path, queues="store", concurrency=1)
    app = celery_app.configure(Settings(data_dir=tmp_path / "data"), redis_url=server.url)
    seen: list[str] = []

    def listen() -> None:
        with app.connection_for_read() as conn:
            receiver = app.events.Receiver(conn, handlers={"*": lambda e: seen.append(e["type"])})
            # Ends at its time-out, or when the test stops Redis under it.
            with contextlib.suppress(socket.timeout, TimeoutError, OSError, redis.RedisError):
                receiver.capture(limit=200, timeout=20, wakeup=False)

    def record_one(n: int) -> None:
        celery_app.publish(keys.TASK_RECORD_REJECTED, {
            "raw_b64": base64.b64encode(b"not hl7").decode(), "dedupe_key": f"flower-{n}",
            "ack_code": "AR", "error": "test", "received_at": "2026-01-01T00:00:00+00:00",
        })  # fmt: skip

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        time.sleep(1)  # the receiver is bound before the first task
        record_one(1)
        wait_until(lambda: not _queued(server.url), timeout=60, what="the first task run")
        time.sleep(2)  # any task event of it would have arrived by now
        # task-sent comes from the publisher (this test); the worker's own are off.
        assert not [t for t in seen if t.startswith("task-") and t != "task-sent"], seen
        app.control.enable_events()  # what Flower sends
        record_one(2)
        wait_until(lambda: "task-succeeded" in seen, timeout=60, what="a task event")
    finally:
        worker.stop()
        server.stop()
        listener.join(25)


def _queued(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen("store"))
    finally:
        client.close()
