"""`radflag run`: the whole service on one machine, and nothing left behind when it stops.

Strategy: the supervisor starts Redis (unless `--redis-url` names one), then
each part as a child process running a `radflag` subcommand: the listener, an
annotating worker pool (queues `annotate` and `store`, `--concurrency`
processes), a delivering worker pool (queue `deliver`, its own processes, so
a slow destination never holds up annotation) and `radflag web` when that
command exists. The children get the settings through `RADFLAG_*` variables.

Each child runs in its own process group (so a Ctrl-C in the terminal reaches
only the supervisor, which then stops the parts in order: the listener first,
so that it finishes its messages in flight while Redis is still up, then the
workers, the web server, and Redis last) and is told by the kernel to die if
the supervisor itself dies (PR_SET_PDEATHSIG).

Self-healing: a child that exits on its own (crash, OOM kill, a worker's main
process gone, a disk-full error) is started again, and so is the embedded
Redis if it dies (same port, same AOF), each after a capped exponential
backoff (resilience.backoff) with one log line per restart. Meanwhile the
listener answers AE/CE (Redis down) and the workers reconnect by themselves;
`worker.run_state` tells /readyz which part is down. Stopping is bounded:
STOP_BUDGET seconds in all, the listener first (LISTENER_GRACE to finish its
messages in flight), then the others together, then SIGKILL for whatever is
wedged (a task killed this way stays unacknowledged in Redis and is run again).

Logs: every child's stdout and stderr come through a pipe to a thread here
that copies each line to our stdout and to `data_dir/logs/radflag.log`
(rotating); this process is that file's only writer, so rotation is safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import IO

from resilience.backoff import RestartBackoff
from worker import keys, run_state
from worker.logging import LOG_FILE_NAME, LogFile, OutputLines, TeeHandler
from worker.reconciler import restore_at_start
from worker.redis_server import RedisServer, RedisServerError
from worker.settings import PREFIX, Settings

log = logging.getLogger(__name__)

LINE_LIMIT = 65536  # longest log line copied whole; a longer one is copied in pieces
STOP_BUDGET = 10.0  # seconds for a whole graceful stop, wedged children included
LISTENER_GRACE = 5.0  # of which the listener gets this much alone
REDIS_STOP_TIMEOUT = 5.0
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One part of the service: a `radflag` subcommand in its own process group."""

    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    restart_at: float | None = None  # when it is down: the time of its next start
    restarts: int = 0


def settings_env(settings: Settings, redis_url: str) -> dict[str, str]:
    """The environment for a child: ours plus every setting as `RADFLAG_*` (they win)."""
    env = dict(os.environ)
    for f in fields(settings):
        value = getattr(settings, f.name)
        key = PREFIX + f.name.upper()
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    env[PREFIX + "REDIS_URL"] = redis_url
    return env


def radflag_command(*args: str) -> list[str]:
    """argv that runs `radflag ARGS` with this interpreter (no reliance on PATH)."""
    code = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"
    return [sys.executable, "-c", code, *args]


def plan_children(settings: Settings, *, with_web: bool) -> list[Child]:
    """The parts `radflag run` starts, in start order."""
    children = [
        Child("listener", radflag_command("listen")),
        Child(
            "worker-annotate",
            radflag_command(
                "worker",
                "--queues",
                f"{keys.QUEUE_ANNOTATE},{keys.QUEUE_STORE},{keys.QUEUE_BACKFILL}",
                "--concurrency",
                str(settings.concurrency),
            ),
        ),
        Child(
            "worker-deliver",
            radflag_command(
                "worker",
                "--queues",
                keys.QUEUE_DELIVER,
                "--concurrency",
                str(settings.delivery_concurrency),
            ),
        ),
        Child("beat", radflag_command("beat")),  # follow-up due dates (docs/followups.md)
    ]
    if with_web:
        children.append(Child("web", radflag_command("web")))
    return children


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: own process group, and SIGTERM
    # from the kernel when the supervisor dies, even by SIGKILL.
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Starts Redis and the children, restarts what dies; `run` blocks until a signal."""

    def __init__(
        self,
        settings: Settings,
        *,
        with_web: bool,
        keep_fds: tuple[int, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 0.2,
    ) -> None:
        self.settings = settings
        self.keep_fds = keep_fds  # inherited by the children: the data-dir lock
        self.redis: RedisServer | None = None
        self.children = plan_children(settings, with_web=with_web)
        self.clock = clock
        self.poll_interval = poll_interval
        self._stop_requested = False
        self._copiers: list[threading.Thread] = []
        self.log_file: LogFile | None = None
        self._env: dict[str, str] = {}
        self._redis_backoff = RestartBackoff()
        self._redis_restart_at: float | None = None

    def run(self) -> int:
        """Run the service; return the exit status (0 after a requested stop)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)
        status = 0
        tee = self._open_log_file()
        try:
            redis_url = self._start_redis()
            restore_at_start(self.settings, redis_url)
            self._env = settings_env(self.settings, redis_url)
            for child in self.children:
                if self._stop_requested:
                    break
                self._spawn(child)
            self._publish_state()
            status = self._watch()
        finally:
            self._stop_all()
            self._close_log_file(tee)
        return status

    def _open_log_file(self) -> TeeHandler:
        self.log_file = LogFile(
            self.settings.data_dir / "logs" / LOG_FILE_NAME,
            max_bytes=self.settings.log_max_bytes,
            backups=self.settings.log_backups,
        )
        tee = TeeHandler(self.log_file)
        root = logging.getLogger()
        if root.handlers:
            tee.setFormatter(root.handlers[0].formatter)
        root.addHandler(tee)
        return tee

    def _close_log_file(self, tee: TeeHandler) -> None:
        for thread in self._copiers:  # the children are gone: their pipes end
            thread.join(5)
        logging.getLogger().removeHandler(tee)
        if self.log_file is not None:
            self.log_file.close()

    def _copy_lines(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        thread = threading.Thread(
            target=_copy_output,
            args=(
                child.process.stdout,
                self.log_file,
                # The component is the child's subcommand, as in its own lines.
                OutputLines(child.args[3], child.process.pid, self.settings.log_format),
            ),
            name=f"log-{child.name}",
            daemon=True,
        )
        thread.start()
        self._copiers.append(thread)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.args,
            env=self._env,
            preexec_fn=_die_with_parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=self.keep_fds,
        )
        self._copy_lines(child)
        child.restart_at = None
        child.backoff.started(self.clock())
        log.info("started %s pid=%d", child.name, child.process.pid)

    def _start_redis(self) -> str:
        if self.settings.redis_url:
            return self.settings.redis_url
        self.redis = RedisServer(
            self.settings.data_dir / "redis",
            binary=self.settings.redis_binary,
            appendfsync=self.settings.redis_appendfsync,
            preexec_fn=_die_with_parent,
            # Redis writes its own format: a file of its own, not radflag.log or stdout.
            log_path=self.settings.data_dir / "logs" / "redis.log",
        ).start()
        self._redis_backoff.started(self.clock())
        log.info(
            "embedded Redis on %s:%d, AOF in %s (appendfsync %s)",
            self.redis.host,
            self.redis.port,
            self.redis.data_dir,
            self.redis.appendfsync,
        )
        keys.embedded_url_file(self.settings.data_dir).write_text(self.redis.url + "\n")
        return self.redis.url

    def _watch(self) -> int:
        while not self._stop_requested:
            now = self.clock()
            changed = self._heal_redis(now)
            for child in self.children:
                changed |= self._heal_child(child, now)
            if changed:
                self._publish_state()
            time.sleep(self.poll_interval)
        return 0

    def _heal_child(self, child: Child, now: float) -> bool:
        """Notice a dead child, or start it again when its backoff is over; True on a change."""
        if child.process is None:
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                return True
            return False
        code = child.process.poll()
        if code is None:
            return False
        _reap_group(child.process)
        child.process = None
        delay = child.backoff.delay_after_exit(now)
        child.restart_at = now + delay
        log.error(
            "%s exited with %s; restarting it in %.1f s (restart %d)",
            child.name,
            code,
            delay,
            child.restarts + 1,
        )
        return True

    def _heal_redis(self, now: float) -> bool:
        redis_server = self.redis
        if redis_server is None:
            return False
        if self._redis_restart_at is None:
            process = redis_server.process
            code = None if process is None else process.poll()
            if process is not None and code is None:
                return False
            redis_server.process = None
            delay = self._redis_backoff.delay_after_exit(now)
            self._redis_restart_at = now + delay
            log.error("embedded Redis exited with %s; restarting it in %.1f s", code, delay)
            return True
        if now < self._redis_restart_at:
            return False
        try:
            redis_server.start()
        except RedisServerError as e:
            delay = self._redis_backoff.delay_after_exit(self.clock())
            self._redis_restart_at = self.clock() + delay
            log.error("embedded Redis did not restart (%s); next try in %.1f s", e, delay)
            return False
        self._redis_restart_at = None
        self._redis_backoff.started(self.clock())
        log.info("embedded Redis restarted on port %d", redis_server.port)
        return True

    def _publish_state(self) -> None:
        parts = {
            child.name: run_state.RUNNING if child.process is not None else run_state.RESTARTING
            for child in self.children
        }
        if self.redis is not None:
            up = self._redis_restart_at is None
            parts["redis"] = run_state.RUNNING if up else run_state.RESTARTING
        try:
            run_state.write(self.settings.data_dir, parts)
        except OSError as e:
            log.warning("run state not written: %s", type(e).__name__)

    def _request_stop(self, signum: int, _frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self._stop_requested = True

    def _stop_all(self) -> None:
        """Stop within STOP_BUDGET s: the listener first (see the module docstring), the rest."""
        deadline = self.clock() + STOP_BUDGET
        run_state.remove(self.settings.data_dir)
        listener = [c for c in self.children if c.name == "listener"]
        others = [c for c in self.children if c.name != "listener"]
        _stop_children(listener, min(deadline, self.clock() + LISTENER_GRACE), self.clock)
        _stop_children(others, deadline, self.clock)
        if self.redis is not None:
            keys.embedded_url_file(self.settings.data_dir).unlink(missing_ok=True)
            self.redis.stop(timeout=REDIS_STOP_TIMEOUT)
            log.info("embedded Redis stopped")


def _copy_output(stream: IO[bytes], log_file: LogFile | None, formatted: OutputLines) -> None:
    """Copy a child's lines to our stdout and the log file until the child closes its end."""
    out = sys.stdout
    for raw in iter(lambda: stream.readline(LINE_LIMIT), b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line.strip():
            continue
        line = formatted(line)
        with contextlib.suppress(OSError, ValueError):
            out.write(line + "\n")
            out.flush()
        if log_file is not None:
            log_file.write(line)
    stream.close()


def _stop_children(children: list[Child], deadline: float, clock: Callable[[], float]) -> None:
    """SIGTERM them all, wait until `deadline`, then SIGKILL each one's whole group."""
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        assert child.process is not None
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(max(0.0, deadline - clock()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time, killed", child.name)
    for child in children:
        if child.process is not None:
            _reap_group(child.process)


def _reap_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left in the process's group (a worker's pool processes), reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
