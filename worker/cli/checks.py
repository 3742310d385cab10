"""Checks a service command makes before it starts, so that a bad setting is one line."""

from __future__ import annotations

import socket
from collections.abc import Callable

import click


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise click.UsageError when `host:port` cannot be bound (in use, no such address).

    A check, not a reservation: the server binds again right after. Port 0 is
    always free.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise click.UsageError(f"{option}: cannot listen on {host}:{port}: {e.strerror}") from e
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise click.UsageError(
                f"{option}: cannot listen on {host}:{port}: {e.strerror or e}"
            ) from e


class SetupFailed(click.ClickException):
    """Printed as `Error: <reason>` (one line, no usage text), exit status 2."""

    exit_code = 2


def preflight(check: Callable[[], None]) -> None:
    """Run `check` with a private umask set first; PreflightError becomes SetupFailed."""
    from worker.preflight import PreflightError
    from worker.private_files import set_private_umask

    set_private_umask()  # before anything is created: files 0600, directories 0700
    try:
        check()
    except PreflightError as e:
        raise SetupFailed(str(e)) from None
