"""`radflag backfill PATH...`: run an archive of reports through the service (docs/backfill.md)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from worker.cli.base import main
from worker.cli.options import LOGS, REDIS, STORE, with_settings
from worker.settings import Settings

PLAIN_PROGRESS_EVERY = 10.0  # seconds between progress lines when stderr is no terminal
TTY_PROGRESS_EVERY = 0.5
LOCAL_START_TIMEOUT = 120.0  # seconds for local workers to answer (they load both pipelines)


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"radflag backfill: {message}", err=True)
    sys.exit(code)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _workers_option(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise click.BadParameter(f"expected auto or a number of processes, got {value!r}")
    return count


class _ProgressView:
    """The meter on stderr: redrawn in place on a terminal, a line now and then otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.every = TTY_PROGRESS_EVERY if self.tty else PLAIN_PROGRESS_EVERY
        self.last = 0.0

    def __call__(self, meter: Any, *, final: bool = False) -> None:
        from backfill.progress import bar

        now = time.monotonic()
        if not final and now - self.last < self.every:
            return
        self.last = now
        line = f"backfill {meter.line()}"
        if self.tty:
            shown = f"backfill {bar(meter.done, meter.total)} {meter.line()}"
            click.echo(f"\r{shown}\x1b[K", err=True, nl=final)
        else:
            click.echo(line, err=True)


@main.command("backfill")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--batch-size", type=click.IntRange(1, 1000), default=50, show_default=True,
    help="Reports per task (Celery's per-task cost is paid once per batch).",
)  # fmt: skip
@click.option(
    "--in-flight", type=click.IntRange(1, 100000), default=None,
    help="Batches submitted and not yet reported, at most. [default: 4 per worker process, "
    "at least 8]",
)  # fmt: skip
@click.option(
    "--batch-timeout", type=click.FloatRange(min=1.0), default=None,
    help="Seconds after which a batch not reported is submitted again (3 times in all). "
    "[default: task time limit + 60]",
)  # fmt: skip
@click.option(
    "--workers", default="auto", show_default=True, callback=_workers_option,
    help="Local worker processes to start for this run: auto starts one per core only when no "
    "worker consumes the backfill queue; 0 never starts any.",
)  # fmt: skip
@click.option("--send", is_flag=True, help="Send each result to --destination too.")
@click.option(
    "--rate", type=click.FloatRange(min=0.001), default=None,
    help="With --send: results per second handed to delivery, at most. [default: no limit]",
)  # fmt: skip
@click.option(
    "--state", "state_file", type=click.Path(path_type=Path), default=None,
    help="The run's state file. [default: DATA_DIR/backfill/<hash of the inputs>.json]",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_settings(REDIS, STORE, LOGS, ("destination", "task_time_limit"))
def backfill_command(
    settings: Settings, paths: tuple[Path, ...], batch_size: int, in_flight: int | None,
    batch_timeout: float | None, workers: int | None, send: bool, rate: float | None,
    state_file: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Annotate and store archived reports: .hl7 files, directories of them, .jsonl.

    Runs on the Celery workers through the message store, like live reports.
    Ctrl-C stops submitting; the same command again resumes (what the store
    has is skipped). Exit 0: all done; 1: some failed or not finished; 2: bad
    input or setup; 130: interrupted.
    """
    signal.signal(signal.SIGTERM, _interrupt)  # stops like Ctrl-C: summary, resumable
    try:
        _backfill(settings, paths, batch_size, in_flight, batch_timeout, workers, send, rate,
                  state_file, as_json)  # fmt: skip
    except KeyboardInterrupt:
        _fail("interrupted; run the same command again to resume", code=130)


def _backfill(
    settings: Settings, paths: tuple[Path, ...], batch_size: int, in_flight: int | None,
    batch_timeout: float | None, workers: int | None, send: bool, rate: float | None,
    state_file: Path | None, as_json: bool,
) -> None:  # fmt: skip
    from backfill.inputs import InputError, count_items, input_files
    from hl7.errors import TransientError
    from worker import backfill_state
    from worker.logging import setup_logging
    from worker.private_files import set_private_umask

    if rate is not None and not send:
        raise click.UsageError("--rate limits --send; give --send too")
    if send and settings.destination is None:
        raise click.UsageError("--send needs --destination HOST:PORT (RADFLAG_DESTINATION)")
    set_private_umask()
    setup_logging("WARNING" if settings.log_level == "INFO" else settings.log_level, "backfill",
                  settings.log_format)  # fmt: skip
    try:
        files = input_files(paths)
        if not files:
            _fail("no .hl7 or .jsonl files in " + ", ".join(str(p) for p in paths))
        # Everything is read once before anything is submitted: bad input stops it here.
        total = count_items(files)
        _redis_url(settings)  # before the state file: a run that cannot start leaves nothing
        path = state_file or backfill_state.default_state_path(settings.data_dir, files)
        state, resumed = backfill_state.load_or_start(path, files)
        received = datetime.fromisoformat(state.received_at)
    except (InputError, backfill_state.StateError) as e:
        _fail(str(e))
    if resumed:
        click.echo(f"resuming backfill run {state.run_id} ({path})", err=True)
    try:
        summary = _run(settings, state, files, total, received, options=dict(
            batch_size=batch_size, in_flight=in_flight, batch_timeout=batch_timeout,
            workers=workers, send=send, rate=rate,
        ))  # fmt: skip
    except TransientError as e:
        _fail(f"{e}; run the same command again to resume", code=1)
    except InputError as e:  # the files changed since the first pass
        _fail(f"{e} (changed while the backfill ran; what was submitted is kept)")
    complete = summary.finished >= summary.items and not summary.failed and not summary.not_sent
    if not summary.interrupted and complete:
        state.finished = True
    try:
        backfill_state.save(path, state)
    except backfill_state.StateError as e:
        click.echo(f"radflag backfill: {e}", err=True)
    if as_json:
        click.echo(json.dumps({"run_id": state.run_id, **summary.to_json()}, indent=2))
    else:
        click.echo(f"backfill run {state.run_id}")
        for line in summary.lines():
            click.echo(line)
    if summary.interrupted:
        sys.exit(130)
    sys.exit(0 if state.finished else 1)


def _redis_url(settings: Settings) -> str:
    """The broker's URL once it answers; else one line and exit 2."""
    from worker import keys
    from worker.preflight import PreflightError, check_redis

    url = keys.resolve_redis_url(settings)
    if url is None:
        _fail(
            f"no Redis: nothing is running in {settings.data_dir}; give --redis-url "
            "(RADFLAG_REDIS_URL) or the --data-dir of a running `radflag run`"
        )
    try:
        check_redis(settings, url)
    except PreflightError as e:
        _fail(str(e))
    return url


def _run(
    settings: Settings, state: Any, files: list[Path], total: int, received: Any,
    *, options: dict[str, Any],
) -> Any:  # fmt: skip
    import redis

    from backfill.inputs import read_items
    from hl7.errors import TransientError
    from worker import celery_app, keys
    from worker.backfill_run import Backfill, Options
    from worker.backfill_workers import LocalWorkers, backfill_consumers, pool_processes
    from worker.store import open_store

    url = _redis_url(settings)
    app = celery_app.configure(settings, redis_url=url)
    try:
        store = open_store(settings)
    except TransientError as e:
        _fail(str(e))
    client = keys.redis_client(url, timeout=5.0, master_name=settings.redis_master_name)
    local: LocalWorkers | None = None
    processes = options["workers"]
    consumers = backfill_consumers(app)
    if processes is None:
        processes = 0 if consumers else (os.cpu_count() or 1)
    elif processes == 0 and not consumers:
        _fail(
            "no worker consumes the backfill queue: start `radflag worker` (its default "
            "queues include backfill) or `radflag run`, or give --workers N"
        )
    if processes:
        local = LocalWorkers(
            settings, url, processes, settings.data_dir / "logs" / "backfill-workers.log"
        )

    def start_local() -> None:  # at the first batch: a run with nothing left starts none
        if local is None or local.alive():
            return
        click.echo(f"starting {local.processes} local worker processes", err=True)
        local.start()
        if not local.wait_ready(app, timeout=LOCAL_START_TIMEOUT):
            local.stop()
            _fail(f"the local workers did not start; see {local.log_path}")

    workers_total = (processes or 0) + pool_processes(app, consumers)
    in_flight = options["in_flight"] or max(8, 4 * workers_total)
    run = Backfill(
        state=state,
        options=Options(
            batch_size=options["batch_size"],
            in_flight=in_flight,
            batch_timeout=options["batch_timeout"] or settings.task_time_limit + 60.0,
            send=options["send"],
            destination=settings.destination,
            rate=options["rate"],
        ),
        store=store,
        client=client,
        publish=celery_app.publish,
        on_progress=_ProgressView(),
        before_submit=start_local,
    )
    view = run.on_progress
    try:
        summary = run.run(read_items(files, timestamp=received), total)
        if run.meter is not None:
            view(run.meter, final=True)  # type: ignore[call-arg]
    except redis.RedisError as e:
        raise TransientError(f"Redis unavailable: {type(e).__name__}") from e
    finally:
        if local is not None:
            local.stop()
    return summary


__all__ = ["backfill_command"]
