"""docker-compose.yml and the Dockerfile agree with the CLI they call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from worker.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _resolves(argv: list[str]) -> bool:
    """True when `radflag ARGV` names an existing command and its options parse."""
    command: click.Command = main
    ctx = click.Context(main, info_name="radflag")
    args = list(argv)
    while isinstance(command, click.Group) and args:
        sub = command.get_command(ctx, args[0])
        if sub is None:
            return False
        command, args = sub, args[1:]
        ctx = click.Context(command, info_name=command.name, parent=ctx)
    command.parse_args(ctx, args)  # raises click.UsageError on an unknown option
    return True


def test_compose_parses_with_the_parts() -> None:
    """Redis with AOF, a listener, a scalable worker and flower are there."""
    services = _compose()["services"]
    assert {"redis", "listener", "worker", "flower"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert "container_name" not in services["worker"]  # a fixed name would block --scale
    assert "ports" not in services["worker"]


def test_every_radflag_command_in_compose_exists() -> None:
    """Each `radflag ...` command line in the compose file resolves in the CLI."""
    commands = [
        service["command"]
        for service in _compose()["services"].values()
        if isinstance(service.get("command"), list) and service["command"][0] == "radflag"
    ]
    assert len(commands) >= 3
    for command in commands:
        assert _resolves(command[1:]), command


def test_dockerfile_command_exists() -> None:
    """The image's default command is a radflag command."""
    text = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in text.splitlines() if line.startswith("CMD "))
    argv = yaml.safe_load(cmd[4:])
    assert argv[0] == "radflag" and _resolves(argv[1:])


def test_resolver_rejects_unknown_commands() -> None:
    """The check above can fail: an unknown command or option does not resolve."""
    assert not _resolves(["no-such-command"])
    try:
        _resolves(["listen", "--no-such-option"])
    except click.UsageError:
        pass
    else:
        raise AssertionError("an unknown option resolved")
