"""radflag service commands: run, listen, worker, send, and dlq list|show|replay|purge."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hl7.errors import TransientError
from worker.cli.base import main
from worker.cli.checks import check_port_free
from worker.cli.options import ALL, LISTENER, LOGS, REDIS, STORE, WORKER, with_settings
from worker.settings import Settings, SettingsError


def _redis_url(settings: Settings) -> str:
    from worker.keys import resolve_redis_url

    url = resolve_redis_url(settings)
    if url is None:
        raise click.UsageError(
            f"no Redis: nothing is running in {settings.data_dir} (no `radflag run` there); "
            "give --redis-url (RADFLAG_REDIS_URL) or the --data-dir of a running `radflag run`"
        )
    return url


def _check_tls(settings: Settings) -> None:
    """Load the listener's TLS files now, so that a bad one is a clear error, not a traceback."""
    from worker import tls

    try:
        tls.listener_context(settings)
    except SettingsError as e:
        raise click.UsageError(str(e)) from e


def _check_service(checks: Any, settings: Settings, url: str, *, port: bool) -> None:
    """Preflight of `listen` (port=True: the MLLP port must be free) and `worker`."""
    checks.check_common(settings)
    if port:
        check_port_free(settings.mllp_host, settings.mllp_port, "--mllp-port")
    checks.check_redis(settings, url)


@main.command()
@with_settings(ALL)
def run(settings: Settings) -> None:
    """Run the whole service: Redis, listener, workers and web page; Ctrl-C stops it all."""
    from worker import preflight as checks
    from worker.cli.checks import preflight
    from worker.logging import setup_logging
    from worker.private_files import tighten_tree
    from worker.supervisor import Supervisor

    with_web = "web" in main.commands
    # Every setting before any part starts: nothing may ACK and then stop (issue 15, item 7).
    # Settings alone first (nothing created), then the data dir (a read-only one is one
    # line) and its lock: another `radflag run` on it is named as such, not as a port in use.
    preflight(lambda: checks.check_settings(settings, with_web=with_web))
    preflight(lambda: checks.check_data_dir(settings.data_dir))
    lock = _lock_data_dir(settings)
    preflight(lambda: checks.check_run(settings, with_web=with_web))
    check_port_free(settings.mllp_host, settings.mllp_port, "--mllp-port")
    if with_web:
        check_port_free(settings.http_host, settings.http_port, "--http-port")
    setup_logging(settings.log_level, "run", settings.log_format)
    tighten_tree(settings.data_dir)  # files from older versions were 0644
    supervisor = Supervisor(settings, with_web=with_web, keep_fds=(lock.fileno(),))
    sys.exit(supervisor.run())


def _lock_data_dir(settings: Settings) -> Any:
    """The data-dir lock (worker/datadir_lock.py), or a one-line error and exit 2."""
    from worker import datadir_lock

    try:
        return datadir_lock.acquire(settings.data_dir)
    except (datadir_lock.DataDirLocked, OSError) as e:
        click.echo(f"radflag run: {e}", err=True)
        sys.exit(2)


@main.command()
@with_settings(LISTENER, REDIS, LOGS)
def listen(settings: Settings) -> None:
    """Run the MLLP listener alone against --redis-url."""
    from worker import celery_app, listener
    from worker import preflight as checks
    from worker.cli.checks import preflight
    from worker.logging import setup_logging

    _check_tls(settings)
    url = _redis_url(settings)
    preflight(lambda: _check_service(checks, settings, url, port=True))
    setup_logging(settings.log_level, "listen", settings.log_format)
    celery_app.configure(settings, redis_url=url)
    try:
        asyncio.run(listener.serve(settings, url))
    except listener.ListenError as e:  # lost the port between the check and the bind
        raise click.UsageError(str(e)) from e


@main.command()
@click.option(
    "--queues",
    default="annotate,deliver,store,backfill",
    show_default=True,
    help="Comma-separated queues this worker consumes.",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo"]),
    default="prefork",
    show_default=True,
    help="Celery pool (solo: one process, for debugging).",
)
@with_settings(WORKER, REDIS, STORE, LOGS)
def worker(settings: Settings, queues: str, pool: str) -> None:
    """Run a Celery worker pool alone against --redis-url (--concurrency processes)."""
    import os

    from worker import celery_app, keys
    from worker import preflight as checks
    from worker.cli.checks import preflight
    from worker.logging import setup_logging
    from worker.metrics import install_task_timing

    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = set(names) - set(keys.QUEUES)
    if unknown or not names:
        raise click.UsageError(f"--queues takes names from {', '.join(keys.QUEUES)}")
    url = _redis_url(settings)
    preflight(lambda: _check_service(checks, settings, url, port=False))
    setup_logging(settings.log_level, "worker", settings.log_format)
    app = celery_app.configure(settings, redis_url=url)
    if {keys.QUEUE_ANNOTATE, keys.QUEUE_BACKFILL} & set(names):  # they annotate
        celery_app.enable_pipeline_build()
    # Task durations and outcomes for /metrics (kept in Redis, read at scrape time).
    install_task_timing(app)
    # Celery's banner is free-form text on stdout; one log line says the same instead.
    logging.getLogger("worker.cli").info(
        "worker for queues %s, %s processes (%s pool)",
        ",".join(names),
        settings.concurrency,
        pool,
    )
    app.worker_main(
        [
            "--quiet",
            "worker",
            "--loglevel",
            settings.log_level,
            "--queues",
            ",".join(names),
            "--concurrency",
            str(settings.concurrency),
            "--pool",
            pool,
            "--hostname",
            f"radflag-{'-'.join(names)}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--to", "to", required=True, metavar="HOST:PORT", help="The MLLP receiver.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each ACK.")
@click.option("--tls", "use_tls", is_flag=True, help="Speak TLS (implied by the --tls-* options).")
@click.option(
    "--tls-ca",
    type=click.Path(path_type=Path),
    help="Trust the receiver's certificate if this CA (PEM) signed it; default: system CAs.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Send each message as it is, even one radflag would refuse (e.g. an empty MSH-10), "
    "to try a receiver's negative ACK.",
)
@click.option("--tls-cert", type=click.Path(path_type=Path), help="Client certificate (PEM).")
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path),
    help="Its private key (PEM), unless in the --tls-cert file.",
)
def send(
    files: tuple[Path, ...],
    to: str,
    timeout: float,
    use_tls: bool,
    tls_ca: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    raw: bool,
) -> None:
    """Send HL7 messages over MLLP and print each ACK.

    A file holds MLLP-framed messages, or plain messages one after another
    (each starts at its MSH segment; blank lines between are fine); LF segment
    ends are sent as CR. With --tls the receiver's certificate must match the
    host named in --to.
    """
    from hl7.errors import InboundMessageError
    from hl7.header import parse_header
    from worker import tls
    from worker.delivery import DeliveryError, send_message, split_messages
    from worker.settings import _parse_hostport

    try:
        address = _parse_hostport(to)
    except SettingsError as e:
        raise click.BadParameter(str(e), param_hint="--to") from e
    ssl_context = None
    if use_tls or tls_ca or tls_cert or tls_key:
        try:
            ssl_context = tls.client_context(tls_ca, tls_cert, tls_key)
        except SettingsError as e:
            raise click.UsageError(str(e)) from e
    failures = 0
    for path in files:
        for message in split_messages(path.read_bytes()):
            try:
                control_id = _raw_control_id(message) if raw else parse_header(message).control_id
                ack = send_message(
                    address, message, control_id, timeout=timeout, ssl_context=ssl_context
                )
            except (InboundMessageError, DeliveryError) as e:
                click.echo(f"{path}: {e}", err=True)
                failures += 1
                continue
            text = f" {ack.text}" if ack.text else ""
            click.echo(f"{path}: {control_id or '(empty MSH-10)'} {ack.code}{text}")
            failures += ack.code not in ("AA", "CA")
    if failures:
        sys.exit(1)


def _raw_control_id(message: bytes) -> str:
    """MSH-10 as far as it can be read ("" when empty or unreadable): the ACK's MSA-2 echoes it."""
    from hl7.errors import InboundMessageError
    from hl7.header import parse_header

    try:
        return parse_header(message).control_id
    except InboundMessageError as e:
        return str(getattr(e.header, "control_id", ""))


@main.group()
def dlq() -> None:
    """The dead-letter store: results rejected (AR) or out of retries."""


PURGE_BATCH = 500


def _dlq_client(settings: Settings) -> Any:
    from worker import keys

    return keys.redis_client(_redis_url(settings), master_name=settings.redis_master_name)


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings(REDIS)
def dlq_list(settings: Settings, as_json: bool) -> None:
    """List dead-lettered messages, oldest first."""
    from worker import dlq as store

    for entry in store.entries(_dlq_client(settings)):
        if as_json:
            click.echo(json.dumps(entry.summary()))
        else:
            click.echo(
                f"{entry.id}  {entry.dead_at[:19]}  {entry.stage:<8} {entry.reason:<13} "
                f"control_id={entry.control_id} result={entry.result_control_id or '-'}  "
                f"{entry.detail[:80]}"
            )


@dlq.command("show")
@click.argument("entry_id")
@click.option(
    "--message",
    "with_message",
    is_flag=True,
    help="Also print the HL7 message (it holds health data).",
)
@with_settings(REDIS)
def dlq_show(settings: Settings, entry_id: str, with_message: bool) -> None:
    """Show one dead-lettered message."""
    from worker import dlq as store

    entry = store.get(_dlq_client(settings), entry_id)
    if entry is None:
        raise click.ClickException(f"no dead-letter entry {entry_id}")
    click.echo(json.dumps(entry.summary(), indent=2))
    if with_message:
        click.echo(
            base64.b64decode(entry.message_b64).decode("utf-8", "replace").replace("\r", "\n")
        )


@dlq.command("replay")
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every entry.")
@with_settings(REDIS)
def dlq_replay(settings: Settings, entry_ids: tuple[str, ...], replay_all: bool) -> None:
    """Queue dead-lettered messages again (with a fresh retry budget)."""
    import redis

    from worker import celery_app
    from worker import dlq as store

    client = _dlq_client(settings)
    celery_app.configure(settings, redis_url=_redis_url(settings))
    chosen = store.entries(client) if replay_all else [_entry(client, i) for i in entry_ids]
    if not chosen:
        raise click.UsageError("name entry ids or give --all")
    replayed = failed = 0
    with _progress(len(chosen), "replaying") as advance:
        for entry in chosen:
            try:
                store.replay(client, entry, celery_app.publish)
            except (TransientError, redis.RedisError) as e:
                # The entry stays in the DLQ (published first, removed after): replay it later.
                failed += 1
                click.echo(f"not replayed {entry.id} control_id={entry.control_id}: {e}", err=True)
            else:
                replayed += 1
                if not (advance.shown and sys.stdout.isatty()):  # would tear the bar apart
                    click.echo(f"replayed {entry.id} control_id={entry.control_id}")
            advance(1)
    click.echo(f"replayed {replayed}, failed {failed}")
    if failed:
        sys.exit(1)


@dlq.command("purge")
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "purge_all", is_flag=True, help="Remove every entry.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_settings(REDIS)
def dlq_purge(settings: Settings, entry_ids: tuple[str, ...], purge_all: bool, yes: bool) -> None:
    """Remove dead-lettered messages for good (asks first unless --yes)."""
    import redis

    from worker import dlq as store

    if not entry_ids and not purge_all:
        raise click.UsageError("name entry ids or give --all")
    client = _dlq_client(settings)
    # --all removes the entries there now, in batches (a progress bar can follow them);
    # one arriving meanwhile stays.
    chosen = store.entry_ids(client) if purge_all else list(entry_ids)
    if not yes:
        click.confirm(f"Remove {len(chosen)} dead-letter entries for good?", abort=True)
    removed = failed = 0
    with _progress(len(chosen), "purging") as advance:
        for start in range(0, len(chosen), PURGE_BATCH):
            batch = chosen[start : start + PURGE_BATCH]
            try:
                removed += store.remove(client, batch)
            except redis.RedisError as e:
                failed = len(chosen) - start
                click.echo(f"purge stopped: {type(e).__name__}: {e}", err=True)
                break
            advance(len(batch))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    click.echo(f"removed {removed}, failed {failed} at {stamp}")
    if failed:
        sys.exit(1)


class _Advance:
    """Moves a progress bar on; `shown` says whether there is one."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.shown = bar is not None

    def __call__(self, steps: int) -> None:
        if self.bar is not None:
            self.bar.update(steps)


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[_Advance]:
    """A progress bar on stderr when stderr is a terminal; nothing otherwise (logs, pipes)."""
    if not sys.stderr.isatty():
        yield _Advance(None)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield _Advance(bar)


def _entry(client: Any, entry_id: str) -> Any:
    from worker import dlq as store

    entry = store.get(client, entry_id)
    if entry is None:
        raise click.ClickException(f"no dead-letter entry {entry_id}")
    return entry
