"""docker-compose.yml and the Dockerfile agree with the CLI they call."""

from __future__ import annotations

import re
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


_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """What `docker compose config` does with ${X}, ${X:-default} and ${X:?error}."""

    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return _VARIABLE.sub(value, text)


SECRETS = {"RADFLAG_DB_PASSWORD": "db-secret", "RADFLAG_REDIS_PASSWORD": "redis-secret"}


def test_compose_validates_without_page_credentials() -> None:
    """Only the database and Redis passwords are required; the page's are not."""
    text = (ROOT / "docker-compose.yml").read_text()
    config = yaml.safe_load(_interpolate(text, SECRETS))
    web = config["services"]["web"]["environment"]
    assert not web["RADFLAG_HTTP_USER"] and not web["RADFLAG_HTTP_PASSWORD"]  # empty: unset
    required = {m.group(1) for m in _VARIABLE.finditer(text) if m.group(2) == "?"}
    assert required == set(SECRETS)


def test_no_password_is_written_in_compose() -> None:
    """Database and Redis passwords come from the environment; Redis demands one."""
    config = yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(), SECRETS))
    services = config["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "db-secret"
    command = services["redis"]["command"]
    assert command[command.index("--requirepass") + 1] == "redis-secret"
    for name in ("listener", "worker", "deliverer", "web"):
        env = services[name]["environment"]
        assert env["RADFLAG_REDIS_URL"] == "redis://:redis-secret@redis:6379/0"
        assert ":db-secret@postgres" in env["RADFLAG_DATABASE_URL"]
    assert "redis://:redis-secret@redis" in services["flower"]["command"][1]
    raw = (ROOT / "docker-compose.yml").read_text()
    assert "radflag:radflag@" not in raw and "POSTGRES_PASSWORD: radflag" not in raw


def test_every_service_has_a_healthcheck() -> None:
    """radflag services check `radflag status`; the page checks /healthz."""
    services = yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text(), SECRETS))[
        "services"
    ]
    for name in ("listener", "worker", "deliverer"):
        test = services[name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "radflag"] and _resolves(test[2:])
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == "redis-secret"


def test_dockerfile_healthcheck_and_page_in_single_container_mode() -> None:
    """The image checks `radflag status`, binds the page to 0.0.0.0 and ships every package."""
    text = (ROOT / "Dockerfile").read_text()
    check = next(line for line in text.splitlines() if line.strip().startswith('CMD ["radflag"'))
    argv = yaml.safe_load(check.strip()[4:])
    assert argv == ["radflag", "status"] and "HEALTHCHECK" in text
    assert "RADFLAG_HTTP_HOST=0.0.0.0" in text and "EXPOSE 2575 8080" in text
    packages = {p.split("*")[0].strip('"') for p in re.findall(r'"(\w+)\*"', _pyproject())}
    for package in packages:
        assert f"COPY {package} {package}" in text, package


def _pyproject() -> str:
    return (ROOT / "pyproject.toml").read_text()


def test_run_refuses_a_public_page_without_credentials(tmp_path: Path) -> None:
    """As in the image (page on 0.0.0.0) without credentials: one line, exit 2, nothing started."""
    from click.testing import CliRunner

    result = CliRunner().invoke(
        main,
        ["run", "--http-host", "0.0.0.0", "--data-dir", str(tmp_path / "d")],
        env={"RADFLAG_HTTP_USER": "", "RADFLAG_HTTP_PASSWORD": ""},
    )
    assert result.exit_code == 2 and "RADFLAG_HTTP_PASSWORD" in result.output
    assert not (tmp_path / "d").exists()
