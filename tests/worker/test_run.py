"""`radflag run`: the whole service from one command, and nothing left behind after SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from hl7.ack import parse_ack
from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    mllp_exchange,
    service_env,
    wait_until,
)
from worker import keys
from worker.settings import Settings

pytestmark = pytest.mark.integration

REPORT = (
    "MRI LEFT KNEE\n\nFindings:\nBone marrow edema in the medial femoral condyle.\n\n"
    "Impression:\nBone marrow edema of the medial femoral condyle."
)


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and ") Z " not in stat.read_text()


@pytest.mark.parametrize(("log_level", "log_format"), [("INFO", "text"), ("DEBUG", "json")])
def test_run_serves_and_stops_everything(
    tmp_path: Path, destination: MllpDestination, log_level: str, log_format: str
) -> None:
    """A message in gets AA and its result out; SIGTERM leaves no process behind."""
    mllp_port, http_port = free_port(), free_port()
    env = service_env(
        tmp_path / "data", None, destination=destination.address, mllp_port=mllp_port,
        http_port=http_port, concurrency=1, delivery_concurrency=1, log_level=log_level,
        log_format=log_format,
    )  # fmt: skip
    run = RadflagProcess("run", ["run"], env, tmp_path / "run.log").start()
    try:
        run.wait_for_log("started worker-deliver", timeout=30)
        run.wait_for_log("started beat", timeout=30)  # follow-up due dates
        wait_until(lambda: accepts(mllp_port), timeout=60, what="the MLLP port")
        url = keys.resolve_redis_url(Settings(data_dir=tmp_path / "data"))
        assert url is not None and url.startswith("redis://127.0.0.1:")
        answers = mllp_exchange(mllp_port, [wrap_oru(REPORT, "MRI KNEE LEFT", control_id="RUN1")])
        assert parse_ack(answers[0]).code == "AA"
        no_id = wrap_oru(REPORT, control_id="")
        assert parse_ack(mllp_exchange(mllp_port, [no_id])[0]).code == "AR"
        destination.wait_for(1, timeout=120)
        assert parse_ack(answers[0]).acked_control_id == "RUN1"
        family = _descendants(run.pid)
        assert len(family) >= 5  # redis, listener, two workers (+ pools), web
    finally:
        assert run.process is not None
        run.process.send_signal(signal.SIGTERM)
        status = run.process.wait(90)
    assert status == 0, run.log()[-3000:]
    # Health data never reaches the logs: the control id does, the report and patient don't.
    log = run.log()
    assert "RUN1" in log
    for health_data in ("medial femoral condyle", "Testpatient", "MRN0001", "19700101"):
        assert health_data not in log
    _check_log_file(tmp_path / "data" / "logs" / "radflag.log", log_format)
    assert "Redis is starting" in (tmp_path / "data" / "logs" / "redis.log").read_text()
    wait_until(lambda: not any(_alive(p) for p in family), timeout=10, what="all children gone")
    assert not (tmp_path / "data" / "redis" / "redis.url").exists()
    assert (tmp_path / "data" / "redis" / "appendonly.aof").exists()


def _check_log_file(path: Path, log_format: str) -> None:
    """The data dir's log file: every part's lines, one format, rejections with their peer."""
    lines = path.read_text().splitlines()
    text = "\n".join(lines)
    assert "RUN1" in text
    assert re.search(r"rejected control_id=\? from 127\.0\.0\.1:\d+ code=AR hl7_error=101", text)
    for health_data in ("medial femoral condyle", "Testpatient", "MRN0001", "19700101"):
        assert health_data not in text
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        components = {r["component"] for r in records}
        assert {"run", "listen", "worker", "web"} <= components
        loggers = {r["logger"].split(".")[0] for r in records}
        assert {"celery", "uvicorn", "worker"} <= loggers
    else:
        head = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ \[([\w-]+) \d+\] ")
        # A record's further lines (a traceback, a long warning) are indented under it.
        assert all(head.match(line) or line.startswith("  ") or not line for line in lines)
        components = {m.group(1) for m in map(head.match, lines) if m}
        assert {"run", "listen", "worker", "web"} <= components
