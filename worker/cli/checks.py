"""Checks a service command makes before it starts, so that a bad setting is one line."""

from __future__ import annotations

import socket

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
