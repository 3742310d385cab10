"""Recovery after a crash: the data-dir lock; unacknowledged tasks redelivered at the next start.

Real `radflag run` processes (embedded Redis, listener, workers), a real MLLP
destination, SIGKILL of every process of the tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from hl7.ack import parse_ack
from tests.hl7.messages import wrap_oru
from tests.servers import (
    ROOT,
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    mllp_exchange,
    service_env,
    wait_until,
)
from tests.worker.test_run import _descendants
from worker import datadir_lock, keys
from worker.settings import Settings

REPORT = "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\n"
RUN_CODE = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"


def _second_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_CODE, "run"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_second_run_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    held = datadir_lock.acquire(data)
    try:
        env = service_env(data, None, mllp_port=free_port(), http_port=free_port())
        done = _second_run(env)
    finally:
        held.release()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"radflag run: data dir {data} is in use by another radflag run (pid {os.getpid()})"
    ]
    assert not (data / "redis").exists()  # nothing was started
    assert (data / datadir_lock.LOCK_NAME).stat().st_mode & 0o777 == 0o600


def test_the_lock_goes_with_its_holder_even_on_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = (
        "import sys, time; from pathlib import Path; from worker import datadir_lock; "
        "datadir_lock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(data)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(datadir_lock.DataDirLocked, match=f"pid {holder.pid}"):
            datadir_lock.acquire(data)
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    datadir_lock.acquire(data).release()


@pytest.mark.integration
def test_unacked_tasks_of_a_killed_run_are_redelivered_at_the_next_start(tmp_path: Path) -> None:
    destination = MllpDestination(code="hold").start()  # takes results, never answers
    mllp_port = free_port()
    env = service_env(
        tmp_path / "data", None, destination=destination.address, mllp_port=mllp_port,
        http_port=free_port(), concurrency=1, delivery_concurrency=2, delivery_timeout=1.0,
        delivery_backoff_base=5.0, delivery_backoff_max=5.0,
    )  # fmt: skip
    count = 4
    first = RadflagProcess("run", ["run"], env, tmp_path / "run1.log").start()
    try:
        first.wait_for_log("started worker-deliver", timeout=60)
        wait_until(lambda: accepts(mllp_port), timeout=60, what="the MLLP port")
        messages = [
            wrap_oru(REPORT, "MRI KNEE LEFT", control_id=f"REC{n}", accession=f"A{n}")
            for n in range(count)
        ]
        assert [parse_ack(a).code for a in mllp_exchange(mllp_port, messages)] == ["AA"] * count
        destination.wait_for(count, timeout=120)  # each result tried once, unanswered
        url = keys.resolve_redis_url(Settings(data_dir=tmp_path / "data"))
        assert url is not None
        client = redis.Redis.from_url(url, socket_timeout=5)
        wait_until(
            lambda: client.hlen(keys.UNACKED_KEY) >= count, timeout=30, what="unacked deliveries"
        )
        client.close()
        # A second run on this data dir is refused while this one lives.
        refused = _second_run(env)
        assert refused.returncode == 2 and "in use by another radflag run" in refused.stderr
        # The whole tree dies at once: supervisor, Redis, listener, workers and pools.
        for pid in [first.pid, *_descendants(first.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        first.stop(timeout=5)
    wait_until(
        lambda: not any(_descendants(first.pid)) and not accepts(mllp_port),
        timeout=15, what="the first run gone",
    )  # fmt: skip
    destination.code = "AA"
    restarted = time.monotonic()
    second = RadflagProcess("run", ["run"], env, tmp_path / "run2.log").start()
    try:
        # The visibility timeout is 900 s: only the restore at start can be this quick.
        wait_until(
            lambda: len(_arrived_since(destination, restarted)) >= count,
            timeout=120, interval=0.2, what="every result delivered again",
        )  # fmt: skip
        assert "unacknowledged tasks of the previous run" in second.log()
    finally:
        second.stop()
        destination.stop()
    assert len(_arrived_since(destination, restarted)) == count


def _arrived_since(destination: MllpDestination, moment: float) -> set[str]:
    from hl7.header import parse_header

    with destination._lock:
        pairs = list(zip(destination.arrivals, destination.received, strict=True))
    return {parse_header(m).control_id for at, m in pairs if at >= moment}
