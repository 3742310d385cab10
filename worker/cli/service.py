"""radflag service commands: run, listen, worker, send, and dlq list|show|replay|purge."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from worker.cli.base import main, with_settings
from worker.settings import Settings


def _redis_url(settings: Settings) -> str:
    from worker.keys import resolve_redis_url

    url = resolve_redis_url(settings)
    if url is None:
        raise click.UsageError(
            "--redis-url (RADFLAG_REDIS_URL) is required, or a running `radflag run` in --data-dir"
        )
    return url


@main.command()
@with_settings
def run(settings: Settings) -> None:
    """Run the whole service: Redis, listener, workers and web page; Ctrl-C stops it all."""
    from worker.logging import setup_logging
    from worker.supervisor import Supervisor

    setup_logging(settings.log_level, "run")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(Supervisor(settings, with_web="web" in main.commands).run())


@main.command()
@with_settings
def listen(settings: Settings) -> None:
    """Run the MLLP listener alone against --redis-url."""
    from worker import celery_app, listener
    from worker.logging import setup_logging

    setup_logging(settings.log_level, "listen")
    url = _redis_url(settings)
    celery_app.configure(settings, redis_url=url)
    asyncio.run(listener.serve(settings, url))


@main.command()
@click.option(
    "--queues",
    default="annotate,deliver,store",
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
@with_settings
def worker(settings: Settings, queues: str, pool: str) -> None:
    """Run a Celery worker pool alone against --redis-url (--concurrency processes)."""
    import os

    from worker import celery_app, keys
    from worker.logging import setup_logging
    from worker.metrics import install_task_timing

    setup_logging(settings.log_level, "worker")
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = set(names) - set(keys.QUEUES)
    if unknown or not names:
        raise click.UsageError(f"--queues takes names from {', '.join(keys.QUEUES)}")
    app = celery_app.configure(settings, redis_url=_redis_url(settings))
    if keys.QUEUE_ANNOTATE in names:
        celery_app.enable_pipeline_build()
    # Task durations and outcomes for /metrics (kept in Redis, read at scrape time).
    install_task_timing(app)
    app.worker_main(
        [
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
def send(files: tuple[Path, ...], to: str, timeout: float) -> None:
    """Send HL7 messages over MLLP and print each ACK.

    A file holds MLLP-framed messages, or plain messages one after another
    (each starts at its MSH segment; blank lines between are fine); LF segment
    ends are sent as CR.
    """
    from hl7.errors import InboundMessageError
    from hl7.header import parse_header
    from worker.delivery import DeliveryError, send_message, split_messages
    from worker.settings import SettingsError, _parse_hostport

    try:
        address = _parse_hostport(to)
    except SettingsError as e:
        raise click.BadParameter(str(e), param_hint="--to") from e
    failures = 0
    for path in files:
        for message in split_messages(path.read_bytes()):
            try:
                control_id = parse_header(message).control_id
                ack = send_message(address, message, control_id, timeout=timeout)
            except (InboundMessageError, DeliveryError) as e:
                click.echo(f"{path}: {e}", err=True)
                failures += 1
                continue
            text = f" {ack.text}" if ack.text else ""
            click.echo(f"{path}: {control_id} {ack.code}{text}")
            failures += ack.code not in ("AA", "CA")
    if failures:
        sys.exit(1)


@main.group()
def dlq() -> None:
    """The dead-letter store: results rejected (AR) or out of retries."""


def _dlq_client(settings: Settings) -> Any:
    from worker import keys

    return keys.redis_client(_redis_url(settings))


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings
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
@with_settings
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
@with_settings
def dlq_replay(settings: Settings, entry_ids: tuple[str, ...], replay_all: bool) -> None:
    """Queue dead-lettered messages again (with a fresh retry budget)."""
    from worker import celery_app
    from worker import dlq as store

    client = _dlq_client(settings)
    celery_app.configure(settings, redis_url=_redis_url(settings))
    chosen = store.entries(client) if replay_all else [_entry(client, i) for i in entry_ids]
    if not chosen:
        raise click.UsageError("name entry ids or give --all")
    for entry in chosen:
        store.replay(client, entry, celery_app.publish)
        click.echo(f"replayed {entry.id} control_id={entry.control_id}")


@dlq.command("purge")
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "purge_all", is_flag=True, help="Remove every entry.")
@with_settings
def dlq_purge(settings: Settings, entry_ids: tuple[str, ...], purge_all: bool) -> None:
    """Remove dead-lettered messages for good."""
    from worker import dlq as store

    if not entry_ids and not purge_all:
        raise click.UsageError("name entry ids or give --all")
    removed = store.remove(_dlq_client(settings), None if purge_all else list(entry_ids))
    click.echo(f"removed {removed} entries at {datetime.now(UTC).isoformat(timespec='seconds')}")


def _entry(client: Any, entry_id: str) -> Any:
    from worker import dlq as store

    entry = store.get(client, entry_id)
    if entry is None:
        raise click.ClickException(f"no dead-letter entry {entry_id}")
    return entry
