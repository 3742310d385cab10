"""`radflag run` heals itself: Redis SIGKILLed, a worker's main process SIGKILLed, both come
back and messages flow again; /readyz says so meanwhile; SIGTERM stops it all within a bound
even with a wedged (SIGSTOPped) child.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.hl7.messages import wrap_oru
from tests.reliability.engine import ResendingSender
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    service_env,
    wait_until,
)
from worker import run_state
from worker.supervisor import REDIS_STOP_TIMEOUT, STOP_BUDGET

pytestmark = pytest.mark.integration

REPORT = (
    "MRI LEFT KNEE\n\nFindings:\nBone marrow edema in the medial femoral condyle.\n\n"
    "Impression:\nBone marrow edema of the medial femoral condyle."
)


def _pid_of(run: RadflagProcess, name: str) -> int:
    """The pid `radflag run` logged for its child `name` (the newest start)."""
    found = re.findall(rf"started {re.escape(name)} pid=(\d+)", run.log())
    assert found, f"{name} never started:\n{run.log()[-2000:]}"
    return int(found[-1])


def _redis_pid(run: RadflagProcess) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == run.pid and b"redis-server" in cmdline:
            return int(entry.name)
    raise AssertionError("no redis-server child of radflag run")


def _send_until_acked(port: int, control_id: str) -> list[str]:
    sender = ResendingSender(port, ack_timeout=3.0, retry_pause=0.2, max_attempts=150)
    try:
        outcome = sender.send(control_id, wrap_oru(REPORT, control_id=control_id))
    finally:
        sender.close()
    assert outcome.acked, f"{control_id} never acknowledged: {outcome.codes[-5:]}"
    return outcome.codes


def _assert_private(data_dir: Path) -> None:
    """Health data at rest: the data dir and every directory in it 0700, every file 0600."""
    modes = {p.relative_to(data_dir): stat.S_IMODE(p.stat().st_mode) for p in data_dir.rglob("*")}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for must in ("redis/appendonly.aof", "redis/redis.conf", "radflag.sqlite3"):
        assert Path(must) in modes, sorted(map(str, modes))
    for path, mode in modes.items():
        expected = 0o700 if (data_dir / path).is_dir() else 0o600
        assert mode == expected, f"{path} is {mode:o}"


def _delivered(destination: MllpDestination, control_id: str) -> bool:
    return any(control_id.encode() in m for m in list(destination.received))


def test_run_restarts_what_dies_and_stops_in_bounded_time(tmp_path: Path) -> None:
    destination = MllpDestination().start()
    mllp_port, http_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    env = service_env(
        data_dir, None, destination=destination.address, mllp_port=mllp_port,
        http_port=http_port, concurrency=1, delivery_concurrency=1,
    )  # fmt: skip
    run = RadflagProcess("run", ["run"], env, tmp_path / "run.log").start()
    try:
        run.wait_for_log("started web", timeout=30)
        wait_until(lambda: accepts(mllp_port), timeout=60, what="the MLLP port")
        _send_until_acked(mllp_port, "HEAL1")
        wait_until(lambda: _delivered(destination, "HEAL1"), timeout=120, what="HEAL1 delivered")
        _assert_private(data_dir)

        # 1. Redis SIGKILLed: restarted on its port; the listener and workers reconnect.
        os.kill(_redis_pid(run), signal.SIGKILL)
        run.wait_for_log("embedded Redis restarted", timeout=30)
        assert "embedded Redis exited with -9; restarting it in" in run.log()
        _send_until_acked(mllp_port, "HEAL2")
        wait_until(lambda: _delivered(destination, "HEAL2"), timeout=120, what="HEAL2 delivered")

        # 2. The annotating worker's main process SIGKILLed: restarted, messages flow.
        os.kill(_pid_of(run, "worker-annotate"), signal.SIGKILL)
        run.wait_for_log("worker-annotate exited with -9; restarting it in", timeout=30)
        wait_until(
            lambda: run.log().count("started worker-annotate") >= 2,
            timeout=30,
            what="worker-annotate started again",
        )
        _send_until_acked(mllp_port, "HEAL3")
        wait_until(lambda: _delivered(destination, "HEAL3"), timeout=120, what="HEAL3 delivered")
        assert run.process is not None and run.process.poll() is None  # the service stayed up

        # /readyz reads the supervisor's state: all parts running again.
        parts = run_state.read(data_dir)
        assert parts is not None and not run_state.down(parts), parts
        ready = httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=30).json()
        assert ready["restarting"] == []

        # 3. A wedged child (SIGSTOP): SIGTERM still stops everything within the bound.
        os.kill(_pid_of(run, "worker-deliver"), signal.SIGSTOP)
        started = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        status = run.process.wait(60)
        took = time.monotonic() - started
    finally:
        run.stop()
        destination.stop()
    assert status == 0, run.log()[-3000:]
    assert took < STOP_BUDGET + REDIS_STOP_TIMEOUT + 3, f"stop took {took:.1f} s"
    assert "worker-deliver did not stop in time, killed" in run.log()
    assert not run_state.state_file(data_dir).exists()
    print(f"\nself-healing: stop with a wedged child took {took:.1f} s")
