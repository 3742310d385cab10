"""Settings and environment checked before anything listens (issue 15, items 7 and 11):
one line on stderr, exit status 2, within a bound, and nothing started.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, service_env

pytestmark = pytest.mark.integration

BOUND = 15.0  # seconds: PREFLIGHT_REDIS_TIMEOUT plus interpreter start on a loaded machine


def _radflag(args: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    code = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_public_page_without_credentials_fails_before_anything_listens(tmp_path: Path) -> None:
    mllp_port = free_port()
    env = service_env(tmp_path / "data", None, mllp_port=mllp_port, http_host="0.0.0.0")
    status, stdout, stderr, took = _radflag(["run"], env)
    assert status == 2
    assert "RADFLAG_HTTP_USER" in _one_line_error(stderr)
    assert took < BOUND
    assert "MLLP listener on" not in stdout and "started" not in stdout
    assert not (tmp_path / "data" / "redis").exists()  # no Redis was started


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"log_level": "LOUD"}, "log_level must be one of"),
        ({"redis_appendfsync": "never"}, "redis_appendfsync must be one of"),
        ({"redis_binary": "/nonexistent/redis-server"}, "not found"),
        ({"database_url": "mysql://u@h/db"}, "SQLite or PostgreSQL"),
        ({"database_url": "not a url"}, "not a database URL"),
        ({"redis_url": "http://h:1"}, "redis_url"),
        ({"redis_min_replicas": 2}, "needs an external Redis"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, settings: dict[str, object], reason: str
) -> None:
    redis_url = settings.pop("redis_url", None)
    env = service_env(tmp_path / "data", redis_url, mllp_port=free_port(), **settings)
    status, _, stderr, _ = _radflag(["run"], env)
    assert status == 2, stderr
    assert reason in _one_line_error(stderr)


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = service_env(tmp_path / "data", None, mllp_port=port)
        status, _, stderr, _ = _radflag(["run"], env)
    assert status == 2
    assert f"--mllp-port: cannot listen on 127.0.0.1:{port}" in _one_line_error(stderr)


@pytest.mark.parametrize("command", [["run"], ["listen"], ["worker", "--queues", "annotate"]])
def test_unreachable_redis_fails_fast(tmp_path: Path, command: list[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    env = service_env(tmp_path / "data", url, mllp_port=free_port(), http_port=free_port())
    status, _, stderr, took = _radflag(command, env)
    assert status == 2
    line = _one_line_error(stderr)
    assert "did not answer within 3 s" in line and "ConnectionError" in line
    assert took < BOUND


@contextlib.contextmanager
def _read_only_dir(path: Path) -> Iterator[Path]:
    """A directory nobody may write in: a read-only tmpfs as root (root ignores modes)."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(0o700)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.mark.parametrize("command", [["run"], ["listen"]])
def test_read_only_data_dir_is_one_line(tmp_path: Path, command: list[str]) -> None:
    with _read_only_dir(tmp_path / "ro") as data_dir:
        env = service_env(data_dir, None, mllp_port=free_port(), http_port=free_port())
        if command == ["listen"]:
            env["RADFLAG_REDIS_URL"] = "redis://127.0.0.1:1/0"  # data dir is checked first
        status, _, stderr, _ = _radflag(command, env)
    assert status == 2
    assert f"data dir {data_dir} is not writable" in _one_line_error(stderr)
