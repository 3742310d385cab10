"""The alert rules under promtool, and a real Prometheus scraping a running `radflag run`."""

from __future__ import annotations

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
                return delivered == 1.0 and accepted == 1.0

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


def test_workers_send_task_events_for_flower() -> None:
    """Flower sees tasks only if the workers send events; the app says they do."""
    from worker.celery_app import app

    assert app.conf.worker_send_task_events is True and app.conf.task_send_sent_event is True
