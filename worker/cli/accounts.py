"""radflag users (accounts) and radflag feedback (export of reviewed reports as gold labels)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from accounts.roles import ROLES, AccountError
from hl7.errors import TransientError
from worker.cli.base import main, with_settings
from worker.cli.options import STORE
from worker.settings import Settings

CLI_ACTOR = "cli"  # the audit trail's user for changes made with `radflag users`


def _fail(command: str, message: str) -> NoReturn:
    """One line on stderr, exit status 2."""
    click.echo(f"radflag {command}: {message}", err=True)
    sys.exit(2)


def _store(settings: Settings) -> Any:
    from worker.store import open_store

    try:
        return open_store(settings)
    except TransientError as e:
        _fail("users", f"message store unavailable: {e}")


def _accounts(settings: Settings) -> Any:
    from worker.store_accounts import AccountStore

    return AccountStore(_store(settings).engine)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            _fail("users", "--password-stdin: no password on standard input")
        return line.rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@main.group()
def users() -> None:
    """Accounts for the web page: radiologists review, operators watch, admins manage users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@_PASSWORD_STDIN
@with_settings(STORE)
def users_add(settings: Settings, name: str, role: str, password_stdin: bool) -> None:
    """Create the account NAME (asks for its password)."""
    password = _password(password_stdin)
    try:
        _accounts(settings).add_user(name, role, password, by=CLI_ACTOR)
    except AccountError as e:
        _fail("users add", str(e))
    click.echo(f"added {name} ({role})")


@users.command("passwd")
@click.argument("name")
@_PASSWORD_STDIN
@with_settings(STORE)
def users_passwd(settings: Settings, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; ends the user's open sessions."""
    password = _password(password_stdin)
    try:
        _accounts(settings).set_password(name, password, by=CLI_ACTOR)
    except AccountError as e:
        _fail("users passwd", str(e))
    click.echo(f"password changed for {name}")


@users.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@with_settings(STORE)
def users_disable(settings: Settings, name: str, enable: bool) -> None:
    """Disable NAME (no login, open sessions end); --enable undoes it."""
    try:
        _accounts(settings).set_disabled(name, not enable, by=CLI_ACTOR)
    except AccountError as e:
        _fail("users disable", str(e))
    click.echo(f"{'enabled' if enable else 'disabled'} {name}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@with_settings(STORE)
def users_list(settings: Settings, as_json: bool) -> None:
    """Every account with its role and state."""
    found = _accounts(settings).users()
    if as_json:
        rows = [
            {
                "name": u.name,
                "role": u.role,
                "disabled": u.disabled,
                "created_at": u.created_at.isoformat(),
            }
            for u in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not found:
        click.echo("no accounts (the page runs in local mode: loopback only, no login)")
        return
    width = max(len(u.name) for u in found)
    for u in found:
        state = "disabled" if u.disabled else "active"
        click.echo(f"{u.name:<{width}}  {u.role:<11}  {state:<8}  since {u.created_at:%Y-%m-%d}")


@main.group()
def feedback() -> None:
    """Radiologists' reviews as gold labels, to measure radflag on this hospital's reports."""


@feedback.command("export")
@click.option("--since", metavar="DATE", help="Only reviews made on or after DATE (YYYY-MM-DD).")
@with_settings(STORE)
def feedback_export(settings: Settings, since: str | None) -> None:
    """Print reviewed reports as JSON Lines in the annotation contract's corpus format.

    One line per report: {"id", "text", "procedure", "gold": {"bme", "sites",
    "etiology", "flags"}}, the newest review of its newest reviewed version.
    `radflag eval FILE` scores the current rules on it.
    """
    from worker.store_feedback import feedback_of, parse_since

    try:
        moment = parse_since(since) if since else None
    except ValueError:
        _fail("feedback export", f"--since: expected a date YYYY-MM-DD, got {since!r}")
    lines = feedback_of(_store(settings)).gold_labels(moment)
    for line in lines:
        click.echo(json.dumps(line, ensure_ascii=False))
    click.echo(f"exported {len(lines)} reviewed reports", err=True)
