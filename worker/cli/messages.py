"""radflag messages search|show|reprocess and radflag resend: the operators' message browser."""

from __future__ import annotations

import base64
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from browse import DELIVERY_STATES, UNDELIVERED_STATES, MessageQuery, parse_day
from browse.criteria import MAX_LIMIT, CriteriaError
from worker.cli.base import main
from worker.cli.options import REDIS, STORE, with_settings
from worker.settings import Settings


def _criteria(command: Callable[..., Any]) -> Callable[..., Any]:
    """The search options, turned into `query: MessageQuery` for the command."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        states = tuple(kwargs.pop("delivery"))
        if kwargs.pop("undelivered", False):
            states += UNDELIVERED_STATES
        try:
            query = MessageQuery(
                control_id=kwargs.pop("control_id"),
                accession=kwargs.pop("accession"),
                day_from=parse_day(kwargs.pop("day_from")),
                day_to=parse_day(kwargs.pop("day_to")),
                message_type=kwargs.pop("message_type"),
                ack_code=kwargs.pop("ack_code"),
                delivery=tuple(dict.fromkeys(states)),
                limit=kwargs.pop("limit"),
            )
        except CriteriaError as e:
            raise click.UsageError(str(e)) from e
        return command(query=query, **kwargs)

    options = [
        click.option("--control-id", help="The inbound MSH-10."),
        click.option("--accession", help="The accession number (OBR-3, OBR-18 or TXA-12)."),
        click.option("--from", "day_from", metavar="YYYY-MM-DD", help="Received on or after."),
        click.option("--to", "day_to", metavar="YYYY-MM-DD", help="Received on or before."),
        click.option("--type", "message_type", metavar="TYPE", help="Message type: ORU, MDM, ..."),
        click.option("--ack", "ack_code", metavar="CODE", help="ACK sent: AA, AR, CA, ..."),
        click.option(
            "--delivery",
            multiple=True,
            type=click.Choice(DELIVERY_STATES),
            help="Delivery state of the result (repeatable).",
        ),
        click.option(
            "--undelivered", is_flag=True, help="Same as --delivery pending, failed and rejected."
        ),
        click.option(
            "--limit",
            type=click.IntRange(1, MAX_LIMIT),
            default=100,
            show_default=True,
            help="At most this many messages, newest first.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _store(settings: Settings) -> Any:
    from worker.cli.ops import nothing_runs_here
    from worker.store import open_store, store_exists

    if not store_exists(settings):
        raise click.ClickException(nothing_runs_here(settings))
    return open_store(settings)


def _publisher(settings: Settings) -> Callable[[str, dict[str, Any]], None]:
    from worker import celery_app
    from worker.cli.service import _redis_url

    celery_app.configure(settings, redis_url=_redis_url(settings))
    return celery_app.publish


def _chosen(settings: Settings, query: MessageQuery, ids: tuple[int, ...]) -> list[Any]:
    """The details of the messages named by id, else of those the criteria find."""
    from worker.message_store import message_detail, search_messages

    store = _store(settings)
    if ids:
        details = [message_detail(store, i) for i in ids]
        missing = [str(i) for i, d in zip(ids, details, strict=True) if d is None]
        if missing:
            raise click.ClickException(f"no stored message {', '.join(missing)}")
        return details
    if query == MessageQuery(limit=query.limit):
        raise click.UsageError("name message ids or give search options (e.g. --undelivered)")
    return [message_detail(store, row.id) for row in search_messages(store, query)]


@main.group()
def messages() -> None:
    """Stored messages: search them, show one, run them through annotation again."""


@messages.command("search")
@_criteria
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_settings(STORE)
def messages_search(settings: Settings, query: MessageQuery, as_json: bool) -> None:
    """List stored messages matching every option given, newest first."""
    from worker.message_store import search_messages

    for row in search_messages(_store(settings), query):
        if as_json:
            click.echo(json.dumps(_row_json(row)))
        else:
            click.echo(
                f"{row.id:>7}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.message_type:<4} "
                f"{row.ack_code:<3} {row.delivery:<9} control_id={row.control_id} "
                f"accession={row.accession or '-'} result={row.result_control_id or '-'}"
            )


@messages.command("show")
@click.argument("message_id", type=int)
@click.option("--raw", "with_raw", is_flag=True, help="Also print the inbound HL7 (health data).")
@click.option("--result", "with_result", is_flag=True, help="Also print the result HL7.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts (HL7 in base64).")
@with_settings(STORE)
def messages_show(
    settings: Settings, message_id: int, with_raw: bool, with_result: bool, as_json: bool
) -> None:
    """One stored message: its ACK, annotation, result and every delivery attempt."""
    from worker.message_store import message_detail

    detail = message_detail(_store(settings), message_id)
    if detail is None:
        raise click.ClickException(f"no stored message {message_id}")
    if as_json:
        click.echo(json.dumps(_detail_json(detail, with_raw, with_result), indent=2))
        return
    row = detail.row
    click.echo(f"message {row.id}: {row.message_type} control_id={row.control_id}")
    click.echo(f"  from        {row.sending_application} / {row.sending_facility}")
    click.echo(f"  received    {row.received_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"  ACK         {row.ack_code}" + (f": {detail.error}" if detail.error else ""))
    click.echo(f"  accession   {row.accession or '-'}")
    if detail.annotation is not None:
        flags = ", ".join(f"{f['code']} ({f['priority']})" for f in detail.annotation["flags"])
        click.echo(f"  annotation  bme={detail.annotation.get('bme')} flags: {flags or 'none'}")
    else:
        click.echo("  annotation  none")
    click.echo(f"  result      {row.result_control_id or 'none'}; delivery {row.delivery}")
    for a in detail.attempts:
        click.echo(f"  attempt {a.attempt:<3} {a.at:%Y-%m-%d %H:%M:%S} {a.outcome}: {a.detail}")
    if with_raw:
        click.echo("inbound message:\n" + _hl7_text(detail.raw))
    if with_result and detail.result_message is not None:
        click.echo("result message:\n" + _hl7_text(detail.result_message))


@messages.command("reprocess")
@click.argument("message_ids", nargs=-1, type=int)
@_criteria
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_settings(STORE, REDIS)
def messages_reprocess(
    settings: Settings, message_ids: tuple[int, ...], query: MessageQuery, yes: bool
) -> None:
    """Annotate stored messages again (named by id, or a search's results); new results follow."""
    from worker.resend import reprocess

    chosen = _chosen(settings, query, message_ids)
    _run_each(chosen, "reprocess", yes, lambda d, publish: reprocess(d, publish), settings)


@main.command("resend")
@click.argument("message_ids", nargs=-1, type=int)
@_criteria
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_settings(STORE, REDIS)
def resend_command(
    settings: Settings, message_ids: tuple[int, ...], query: MessageQuery, yes: bool
) -> None:
    """Send stored results again: by id, control id, accession, dates, or --undelivered.

    The delivering workers send them to their own --destination, with a fresh
    retry budget and the result's original MSH-10.
    """
    from worker.resend import resend

    chosen = _chosen(settings, query, message_ids)
    _run_each(chosen, "resend", yes, lambda d, publish: resend(d, publish), settings)


def _run_each(
    chosen: list[Any],
    verb: str,
    yes: bool,
    action: Callable[[Any, Callable[[str, dict[str, Any]], None]], object],
    settings: Settings,
) -> None:
    """Apply `action` to each message with a progress bar on a terminal; end with a summary."""
    import redis

    from hl7.errors import TransientError
    from worker.cli.service import _progress
    from worker.resend import NothingToResend

    if not chosen:
        click.echo(f"{verb}: no message matches")
        return
    if not yes and len(chosen) > 1:
        click.confirm(f"{verb.capitalize()} {len(chosen)} messages?", abort=True)
    publish = _publisher(settings)
    done = skipped = failed = 0
    with _progress(len(chosen), verb) as advance:
        for detail in chosen:
            row = detail.row
            try:
                action(detail, publish)
            except NothingToResend as e:
                skipped += 1
                click.echo(f"skipped {row.id}: {e}", err=True)
            except (TransientError, redis.RedisError) as e:
                failed += 1
                click.echo(f"not queued {row.id} control_id={row.control_id}: {e}", err=True)
            else:
                done += 1
                if not (advance.shown and sys.stdout.isatty()):
                    click.echo(f"queued {row.id} control_id={row.control_id}")
            advance(1)
    click.echo(f"{verb}: queued {done}, skipped {skipped}, failed {failed}")
    if failed:
        sys.exit(1)


def _hl7_text(message: bytes) -> str:
    return message.decode("utf-8", "replace").replace("\r", "\n")


def _row_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "control_id": row.control_id,
        "sending_application": row.sending_application,
        "sending_facility": row.sending_facility,
        "message_type": row.message_type,
        "ack_code": row.ack_code,
        "received_at": row.received_at.isoformat(),
        "accession": row.accession,
        "result_control_id": row.result_control_id,
        "delivery": row.delivery,
    }


def _detail_json(detail: Any, with_raw: bool, with_result: bool) -> dict[str, Any]:
    shown = _row_json(detail.row)
    shown["error"] = detail.error
    shown["annotation"] = detail.annotation
    shown["attempts"] = [
        {"attempt": a.attempt, "outcome": a.outcome, "detail": a.detail, "at": a.at.isoformat()}
        for a in detail.attempts
    ]
    if with_raw:
        shown["raw_b64"] = base64.b64encode(detail.raw).decode("ascii")
    if with_result and detail.result_message is not None:
        shown["result_b64"] = base64.b64encode(detail.result_message).decode("ascii")
    return shown
