"""The `radflag` command group and the options shared by its service commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from worker.settings import Settings, SettingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
