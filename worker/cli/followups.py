"""radflag follow-up commands: `followups` (the worklist in a terminal) and `beat` (due dates)."""

from __future__ import annotations

import json
import logging
import sys

import click

from followup.model import STATUSES
from worker.cli.base import main, with_settings
from worker.cli.options import LOGS, REDIS, STORE
from worker.settings import Settings

BUCKETS = ("due_soon",)
log = logging.getLogger(__name__)


@main.command()
@click.option(
    "--status",
    type=click.Choice([*STATUSES, *BUCKETS, "all"]),
    default="all",
    show_default=True,
    help="Only follow-ups in this status (due_soon: open and due within a week).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True)
@with_settings(STORE, ("followup_clock_file",))
def followups(settings: Settings, status: str, as_json: bool, limit: int) -> None:
    """List follow-up recommendations: patient, region, side, modality, due window, status.

    The output holds patient identifiers (health data): keep it where the page is kept.
    """
    from hl7.errors import TransientError
    from worker.followup_clock import clock_for
    from worker.followup_store import open_followups

    try:
        store = open_followups(settings)
        now = clock_for(settings)()
        if status == "due_soon":
            views = store.listing(due_soon_at=now, limit=limit)
        else:
            views = store.listing(status=None if status == "all" else status, limit=limit)
        counts = store.counts()
    except TransientError as e:
        click.echo(f"message store unavailable: {e}", err=True)
        sys.exit(2)
    if as_json:
        for view in views:
            click.echo(json.dumps(view.to_json()))
        return
    for view in views:
        side = view.side or "-"
        click.echo(
            f"{view.public_id}  {view.status:<19} {view.patient:<24} {view.region or '-':<8} "
            f"{side:<9} {view.modality:<10} due {view.due_from:%Y-%m-%d}..{view.due_to:%Y-%m-%d}"
            f"  {view.urgency}"
        )
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.by_status.items())) or "none"
    adherence = counts.adherence
    rate = "-" if adherence is None else f"{adherence:.2f}"
    click.echo(f"{len(views)} listed; in the store: {shown}; adherence {rate}")


@main.command()
@with_settings(REDIS, LOGS, ("followup_check_interval", "followup_clock_file"))
def beat(settings: Settings) -> None:
    """Run the Celery beat that checks follow-up due dates every RADFLAG_FOLLOWUP_CHECK_INTERVAL s.

    Run exactly one per service (`radflag run` starts it). Its schedule file is in --data-dir.
    """
    from worker import celery_app, keys
    from worker.cli.service import _redis_url
    from worker.logging import setup_logging

    setup_logging(settings.log_level, "beat", settings.log_format)
    if settings.followup_clock_file is not None:
        log.warning(
            "follow-up clock from %s, not the system clock (tests and drills only)",
            settings.followup_clock_file,
        )
    app = celery_app.configure(settings, redis_url=_redis_url(settings))
    app.conf.beat_schedule = {
        "followup-check-due": {
            "task": keys.TASK_FOLLOWUP_CHECK,
            "schedule": settings.followup_check_interval,
            "options": {"queue": keys.QUEUE_STORE},
        }
    }
    # Beat sleeps at most this long between looks at its schedule (a float here, unlike the
    # command-line --max-interval).
    app.conf.beat_max_loop_interval = min(settings.followup_check_interval, 60.0)
    schedule = settings.data_dir / "beat" / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    app.start(
        [
            "beat",
            "--schedule",
            str(schedule),
            "--loglevel",
            settings.log_level,
        ]
    )
