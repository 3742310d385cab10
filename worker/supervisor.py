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
the supervisor itself dies (PR_SET_PDEATHSIG). A child that exits on its own
stops the whole service with an error: a half-running service would ACK
messages nobody processes, or process messages nobody receives.

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
from dataclasses import dataclass, fields
from typing import IO

from worker import keys
from worker.logging import LOG_FILE_NAME, LogFile, OutputLines, TeeHandler
from worker.reconciler import restore_at_start
from worker.redis_server import RedisServer
from worker.settings import PREFIX, Settings

log = logging.getLogger(__name__)

STOP_GRACE = 30.0
LINE_LIMIT = 65536  # longest log line copied whole; a longer one is copied in pieces
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One part of the service: a `radflag` subcommand in its own process group."""

    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None


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
                f"{keys.QUEUE_ANNOTATE},{keys.QUEUE_STORE}",
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
    """Starts Redis and the children; `run` blocks until a signal or a child's exit."""

    def __init__(
        self, settings: Settings, *, with_web: bool, keep_fds: tuple[int, ...] = ()
    ) -> None:
        self.settings = settings
        self.keep_fds = keep_fds  # inherited by the children: the data-dir lock
        self.redis: RedisServer | None = None
        self.children = plan_children(settings, with_web=with_web)
        self._stop_requested = False
        self._copiers: list[threading.Thread] = []
        self.log_file: LogFile | None = None

    def run(self) -> int:
        """Run the service; return the exit status (0 after a requested stop)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)
        status = 0
        tee = self._open_log_file()
        try:
            redis_url = self._start_redis()
            restore_at_start(self.settings, redis_url)
            env = settings_env(self.settings, redis_url)
            for child in self.children:
                child.process = subprocess.Popen(
                    child.args,
                    env=env,
                    preexec_fn=_die_with_parent,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=self.keep_fds,
                )
                self._copy_lines(child)
                log.info("started %s pid=%d", child.name, child.process.pid)
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
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    log.error("%s exited with %s: stopping the service", child.name, code)
                    return 1
            time.sleep(0.2)
        return 0

    def _request_stop(self, signum: int, _frame: object) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self._stop_requested = True

    def _stop_all(self) -> None:
        for child in self.children:  # listener first: see the module docstring
            _stop_child(child)
        if self.redis is not None:
            keys.embedded_url_file(self.settings.data_dir).unlink(missing_ok=True)
            self.redis.stop()
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


def _stop_child(child: Child) -> None:
    process = child.process
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %gs, killed", child.name, STOP_GRACE)
    # Whatever is left in its group (a worker's pool processes) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
