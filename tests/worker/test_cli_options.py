"""The CLI's settings options, one-line errors, and read-only commands that create nothing."""

from __future__ import annotations

import dataclasses
import re
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from worker.cli import main
from worker.cli.options import ALL, HELP, SECRETS, default_text, option_name
from worker.settings import Settings

ENV_CLEAN = {f"RADFLAG_{f.name.upper()}": "" for f in dataclasses.fields(Settings)}


def _radflag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point (what a user types), not click's test runner."""
    code = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def _options(*command: str) -> set[str]:
    group: click.Command = main
    for name in command:
        assert isinstance(group, click.Group)
        group = group.commands[name]
    return {o for p in group.params for o in p.opts if o.startswith("--")}


def test_every_setting_is_an_option_of_run() -> None:
    """Each Settings field but the secrets is a `radflag run` option, with help of its own."""
    options = _options("run")
    assert {option_name(name) for name in ALL if name not in SECRETS} <= options
    assert not {option_name(name) for name in SECRETS} & options  # environment only
    assert set(ALL) <= set(HELP)


@pytest.mark.parametrize(
    ("command", "absent", "present"),
    [
        (("web",), {"--mllp-port", "--tls-cert", "--idle-timeout", "--destination"},
         {"--http-port", "--http-user"}),
        (("dlq", "list"), {"--mllp-port", "--tls-cert", "--http-port", "--log-level"},
         {"--redis-url", "--data-dir"}),
        (("listen",), {"--http-port", "--destination", "--concurrency"},
         {"--max-frame-bytes", "--idle-timeout", "--tls-cert", "--duplicate-window"}),
        (("worker",), {"--mllp-port", "--http-port", "--tls-cert"},
         {"--delivery-timeout", "--visibility-timeout", "--destination"}),
        (("status",), {"--mllp-port", "--http-port", "--tls-cert", "--concurrency"},
         {"--redis-url", "--database-url"}),
    ],
)  # fmt: skip
def test_help_lists_only_the_options_a_command_uses(
    command: tuple[str, ...], absent: set[str], present: set[str]
) -> None:
    """`web --help` has no MLLP or TLS options, `dlq list` no service options, and so on."""
    options = _options(*command)
    assert not options & absent and present <= options


def test_defaults_are_written_one_way() -> None:
    """Every setting's help ends with `(RADFLAG_X) [default: Y]`, Y from Settings."""
    for param in main.commands["run"].params:
        name = param.name
        if name not in ALL:
            continue
        assert isinstance(param, click.Option) and param.help
        assert param.help.endswith(f"(RADFLAG_{name.upper()}) [default: {default_text(name)}]")


def test_readme_configuration_table_matches_the_defaults() -> None:
    """Each README settings row names real settings, with the defaults the code has."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n### ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `")]
    named: set[str] = set()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = re.findall(r"`([a-z_]+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(" / ")]
        assert len(names) == len(defaults), row
        for name, default in zip(names, defaults, strict=True):
            assert name in ALL, row
            assert default == default_text(name), (name, default)
        named.update(names)
    assert named == set(ALL)


def test_bad_log_level_is_one_line_exit_2(tmp_path: Path) -> None:
    """`--log-level banana`: one line on stderr naming the choices, exit 2, no traceback."""
    result = _radflag("listen", "--log-level", "banana", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "banana" in result.stderr
    assert "debug" in result.stderr and "Traceback" not in result.stderr


def test_bad_log_level_from_environment_is_one_line_exit_2(tmp_path: Path) -> None:
    """RADFLAG_LOG_LEVEL=banana is refused the same way (Settings checks it too)."""
    result = CliRunner().invoke(
        main, ["status", "--data-dir", str(tmp_path)], env={"RADFLAG_LOG_LEVEL": "banana"}
    )
    assert result.exit_code == 2 and "log_level must be one of" in result.output


@pytest.mark.parametrize("command", ["listen", "web"])
def test_busy_port_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    """A port another process holds: one line naming the address, exit 2."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        option = "--mllp-port" if command == "listen" else "--http-port"
        result = _radflag(
            command, option, str(port), "--redis-url", "redis://127.0.0.1:9/0", cwd=tmp_path
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_status_without_service_creates_nothing(tmp_path: Path) -> None:
    """`radflag status` where nothing ran: says so, exit 1, and leaves no file behind."""
    result = _radflag("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "nothing is running in radflag-data" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("dlq", "list"), ("dlq", "show", "x"), ("status", "--json")])
def test_read_only_commands_create_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    """dlq list/show and status --json in an empty dir: a clear answer, nothing created."""
    result = CliRunner().invoke(main, [*command, "--data-dir", str(tmp_path / "d")], env=ENV_CLEAN)
    assert result.exit_code in (1, 2) and "nothing is running in" in result.output
    assert list(tmp_path.iterdir()) == []


def test_readme_commands_table_names_real_commands() -> None:
    """Each command in the README's table exists, with the options the row shows."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| `radflag")]
    assert len(rows) >= 12
    for row in rows:
        usage = row.split("`")[1].replace("\\|", "|")
        words = usage.split()[1:]
        group: click.Command = main
        for word in words:
            if not isinstance(group, click.Group):
                break
            name = word.split("|")[0]
            if name not in group.commands:
                break
            group = group.commands[name]
        assert group is not main, row
        options = {o for p in group.params for o in p.opts}
        shown = set(re.findall(r"(--[a-z-]+)", usage))
        assert shown <= options, (row, shown - options)
