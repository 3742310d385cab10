"""radflag operations commands: web, status, purge, db upgrade."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from hl7.errors import TransientError
from worker.cli.base import main
from worker.cli.checks import check_port_free
from worker.cli.options import LOGS, REDIS, STORE, WEB, with_settings
from worker.settings import Settings, SettingsError

_DURATION = re.compile(r"^\s*(\d+)\s*([dhwm]?)\s*$")
_UNITS = {"": "days", "d": "days", "h": "hours", "w": "weeks", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `2w`, `90m` or a bare number of days; raises click.BadParameter."""
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"expected e.g. 30d, 12h, 2w or 90m, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@main.command()
@with_settings(WEB, REDIS, STORE, LOGS)
def web(settings: Settings) -> None:
    """Serve the flagged-reports page, /metrics, /healthz and /readyz on the HTTP port.

    Binds 127.0.0.1 unless --http-host says otherwise; any other address needs
    RADFLAG_HTTP_USER and RADFLAG_HTTP_PASSWORD (HTTP Basic).
    """
    from worker.logging import setup_logging
    from worker.web import serve
    from worker.web.security import check_bind, store_has_accounts

    try:
        check_bind(settings, accounts_exist=store_has_accounts(settings))
    except SettingsError as e:
        raise click.UsageError(str(e)) from e
    check_port_free(settings.http_host, settings.http_port, "--http-port")
    setup_logging(settings.log_level, "web", settings.log_format)
    serve(settings)


def _open_store_or_none(settings: Settings) -> Any:
    """The store, or None (said on stderr) when unreachable; never creates one."""
    from worker.store import open_store, store_exists

    if not store_exists(settings):
        return None
    try:
        return open_store(settings)
    except TransientError as e:
        click.echo(f"message store unavailable: {e}", err=True)
        return None


def nothing_runs_here(settings: Settings) -> str:
    """The answer of a read-only command pointed at a data dir where radflag never ran."""
    return (
        f"nothing is running in {settings.data_dir}: no `radflag run` there and no store; "
        "give --data-dir, or --redis-url and --database-url"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@with_settings(REDIS, ("database_url",))
def status(settings: Settings, as_json: bool) -> None:
    """Queue depths, workers alive, oldest waiting message, dead letters, last errors.

    Exits 0 when Redis answers and at least one worker is alive, 1 otherwise.
    """
    from worker import status as service_status
    from worker.store import store_exists

    if service_status.broker_url(settings) is None and not store_exists(settings):
        said = nothing_runs_here(settings)
        click.echo(json.dumps({"ready": False, "error": said}) if as_json else said)
        sys.exit(1)
    reading = service_status.gather(settings, store=_open_store_or_none(settings))
    if not store_exists(settings):
        reading = dataclasses.replace(
            reading, store_error=f"no message store in {settings.data_dir} (nothing ran there)"
        )
    if as_json:
        click.echo(json.dumps(service_status.to_json(reading), indent=2))
    else:
        click.echo(service_status.format_text(reading))
    sys.exit(0 if reading.ready else 1)


@main.command()
@click.option(
    "--older-than",
    "older_than",
    metavar="AGE",
    help="Delete what is older than AGE (30d, 12h, 2w); default: RADFLAG_RETENTION_DAYS.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_settings(STORE, ("retention_days",))
def purge(settings: Settings, older_than: str | None, yes: bool) -> None:
    """Delete stored messages, annotations and delivery attempts past the retention period."""
    from worker.store import open_store

    age = parse_age(older_than) if older_than else timedelta(days=settings.retention_days)
    cutoff = datetime.now(UTC) - age
    if not yes:
        click.confirm(f"Delete everything stored before {cutoff:%Y-%m-%d %H:%M} UTC?", abort=True)
    store = open_store(settings)
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="purging", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        deleted = store.purge(cutoff, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    deleted += _followups(settings).purge(cutoff)  # exams and closed follow-ups
    click.echo(f"deleted {deleted} rows older than {cutoff:%Y-%m-%d %H:%M} UTC")


def _followups(settings: Settings) -> Any:
    from worker.followup_store import open_followups

    return open_followups(settings)


@main.group()
def db() -> None:
    """The message store's schema."""


@db.command("upgrade")
@with_settings(STORE)
def db_upgrade(settings: Settings) -> None:
    """Apply the schema migrations (Alembic) up to the newest; safe to repeat."""
    from worker.migrations import current_revision, upgrade_to_head
    from worker.store import create_store_engine

    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(settings.effective_database_url)
    try:
        ran = upgrade_to_head(engine, lock_dir=settings.data_dir)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    click.echo(f"schema at revision {revision}" + (" (upgraded)" if ran else " (already current)"))
