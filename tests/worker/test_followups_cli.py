"""`radflag followups` and the follow-up metrics, over a real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from hl7.extract import extract_report
from tests.followup.messages import report
from worker import metrics
from worker.cli import main
from worker.followup_store import open_followups
from worker.followup_tasks import track_report
from worker.reports import annotate_report
from worker.settings import Settings
from worker.store import open_store

KNEE = (
    "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\nImpression:\n"
    "Bone marrow edema."
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = Settings(data_dir=tmp_path / "data")
    for number, at in ((1, "20260105090000"), (2, "20251001090000")):
        raw = report(f"C{number}", f"MRN900{number}", KNEE, at=at)
        parsed = extract_report(raw)
        track_report(
            settings, raw, parsed, annotate_report(parsed), f"c{number}", datetime.now(UTC)
        )
    open_followups(settings).check_due(datetime(2026, 1, 10, tzinfo=UTC), None)
    return settings.data_dir


def test_lists_by_status_as_text_and_json(data_dir: Path) -> None:
    """--status filters; --json is one object per line with the plain fields."""
    result = CliRunner().invoke(main, ["followups", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(r["status"] for r in rows) == ["open", "overdue"]
    assert {r["region"] for r in rows} == {"knee"} and {r["side"] for r in rows} == {"left"}
    overdue = CliRunner().invoke(
        main, ["followups", "--data-dir", str(data_dir), "--status", "overdue"]
    )
    assert overdue.exit_code == 0 and "MRN9002 (GENHOSP)" in overdue.output
    assert "MRN9001" not in overdue.output
    assert "in the store: open 1, overdue 1; adherence 0.00" in overdue.output


def test_bad_status_is_a_usage_error(data_dir: Path) -> None:
    """An unknown status: one line, exit 2."""
    result = CliRunner().invoke(main, ["followups", "--data-dir", str(data_dir), "--status", "x"])
    assert result.exit_code == 2 and "Invalid value for '--status'" in result.output


def test_metrics_gauges_and_adherence(data_dir: Path) -> None:
    """/metrics: radflag_followups_open and _overdue, per status, and adherence 0 of 1."""
    settings = Settings(data_dir=data_dir, redis_url="redis://127.0.0.1:1/0")
    body = metrics.render(settings, open_store(settings))
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert found[("radflag_followups_open", ())] == 1
    assert found[("radflag_followups_overdue", ())] == 1
    assert found[("radflag_followups", (("status", "scheduled"),))] == 0
    assert found[("radflag_followups_adherence", ())] == 0.0


def test_compose_runs_one_beat() -> None:
    """docker-compose has the beat (one service, `radflag beat`), with the follow-up destination."""
    import yaml

    from tests.conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    beat = compose["services"]["beat"]
    assert beat["command"] == ["radflag", "beat"]
    assert "RADFLAG_FOLLOWUP_DESTINATION" in beat["environment"]
