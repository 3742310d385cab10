"""The `radflag` command group; the setting options live in worker.cli.options."""

from __future__ import annotations

import sys
from typing import Any

import click

from worker.cli.options import with_settings

__all__ = ["main", "with_settings"]


class RadflagGroup(click.Group):
    """A click group whose usage errors are one line (`Error: ...`) and exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as e:
            where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            click.echo(f"Error: {e.format_message()}{where}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=RadflagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="radflag")
def main() -> None:
    """radflag: flags bone marrow edema in MRI reports arriving over HL7 v2."""


_PEM = click.Path(path_type=Path)  # a PEM file; read by worker.tls, which names it on errors
_SETTING_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--mllp-host", {"help": "Address the MLLP listener binds (RADFLAG_MLLP_HOST) [127.0.0.1]."}),
    ("--mllp-port", {"type": int, "help": "MLLP listener port (RADFLAG_MLLP_PORT) [2575]."}),
    ("--http-host", {"help": "Address of the page and /metrics (RADFLAG_HTTP_HOST) [127.0.0.1]."}),
    ("--http-port", {"type": int, "help": "Page and /metrics port (RADFLAG_HTTP_PORT) [8080]."}),
    ("--destination", {"metavar": "HOST:PORT", "help": "Where results go (RADFLAG_DESTINATION)."}),
    ("--data-dir", {"type": click.Path(path_type=Path), "help": "Data dir (RADFLAG_DATA_DIR)."}),
    ("--redis-url", {"help": "External Redis instead of the embedded one (RADFLAG_REDIS_URL)."}),
    ("--database-url", {"help": "SQLAlchemy URL; default SQLite (RADFLAG_DATABASE_URL)."}),
    ("--concurrency", {"type": int, "help": "Worker processes (RADFLAG_CONCURRENCY) [2]."}),
    ("--log-level", {"help": "DEBUG, INFO, WARNING or ERROR (RADFLAG_LOG_LEVEL) [INFO]."}),
    ("--tls-cert", {"type": _PEM, "help": "Listener TLS certificate (RADFLAG_TLS_CERT)."}),
    ("--tls-key", {"type": _PEM, "help": "Its key, if not in the cert (RADFLAG_TLS_KEY)."}),
    ("--tls-client-ca", {"type": _PEM, "help": "CA for client certs (RADFLAG_TLS_CLIENT_CA)."}),
    (
        "--destination-tls/--no-destination-tls",
        {"help": "Send results over TLS (RADFLAG_DESTINATION_TLS)."},
    ),
    ("--destination-tls-ca", {"type": _PEM, "help": "CA for it (RADFLAG_DESTINATION_TLS_CA)."}),
    # FHIR output; token and password come from the environment only (not argv).
    ("--fhir-url", {"metavar": "URL", "help": "FHIR server base URL (RADFLAG_FHIR_URL)."}),
    ("--fhir-tls-ca", {"type": _PEM, "help": "CA for it (RADFLAG_FHIR_TLS_CA)."}),
    ("--fhir-flag/--no-fhir-flag", {"help": "Patient banner Flag (RADFLAG_FHIR_FLAG)."}),
    (
        "--followup-destination",
        {"metavar": "HOST:PORT", "help": "Overdue notifications (RADFLAG_FOLLOWUP_DESTINATION)."},
    ),
    ("--display-timezone", {"help": "Page times, e.g. Europe/Berlin (RADFLAG_DISPLAY_TIMEZONE)."}),
    (
        "--redis-master-name",
        {"help": "Primary's name at the Sentinels (RADFLAG_REDIS_MASTER_NAME) [mymaster]."},
    ),
    (
        "--redis-min-replicas",
        {"type": int, "help": "ACK once N replicas have it (RADFLAG_REDIS_MIN_REPLICAS) [0]."},
    ),
    (
        "--redis-replica-timeout",
        {"type": float, "help": "Seconds to wait for them (RADFLAG_REDIS_REPLICA_TIMEOUT) [1]."},
    ),
]


def with_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared setting options; the command receives `settings: Settings`."""

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        overrides = {}
        for option, _ in _SETTING_OPTIONS:
            name = option.split("/")[0][2:].replace("-", "_")
            overrides[name] = kwargs.pop(name, None)
        try:
            settings = Settings.from_mapping(None, **overrides)
        except SettingsError as e:
            raise click.UsageError(str(e)) from e
        return command(settings=settings, **kwargs)

    for option, attrs in reversed(_SETTING_OPTIONS):
        wrapper = click.option(option, default=None, **attrs)(wrapper)
    return wrapper
