"""Every setting checked before anything listens: one clear reason, never a half-started service.

Strategy: `radflag run` used to start the listener, which ACKed messages,
before its web child found the bind address unusable and everything stopped
(issue 15, item 7). Now `run`, `listen` and `worker` first check, in this
process and in a few seconds at most: the settings' combinations (a public
page without credentials, TLS files, the log level, appendfsync), the data
dir (created private, writable: a read-only one is one line, not a
traceback), the Redis binary for the embedded
server, the database URL's form, and an external Redis that must answer
within PREFLIGHT_REDIS_TIMEOUT. The CLI turns PreflightError into one line
on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import time
from pathlib import Path

import redis

from worker import keys, private_files
from worker.redis_server import APPENDFSYNC_CHOICES, RedisServerError, find_binary
from worker.settings import Settings, SettingsError, _mask_url

PREFLIGHT_REDIS_TIMEOUT = 3.0  # seconds, all attempts together
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class PreflightError(ValueError):
    """A setting or the environment makes the command unable to run; the message says which."""


def check_run(settings: Settings, *, with_web: bool) -> None:
    """Everything `radflag run` needs before it starts a part. Raises PreflightError."""
    check_settings(settings, with_web=with_web)
    check_common(settings)
    if settings.redis_url:
        check_redis(settings, settings.redis_url)


def check_settings(settings: Settings, *, with_web: bool) -> None:
    """The checks that touch nothing (no directory created, no connection made)."""
    _check_tls(settings)
    if with_web:
        from worker.web.security import check_bind

        try:
            check_bind(settings)
        except SettingsError as e:
            raise PreflightError(str(e)) from None
    if not settings.redis_url:
        if settings.redis_appendfsync not in APPENDFSYNC_CHOICES:
            raise PreflightError(
                f"redis_appendfsync must be one of {', '.join(APPENDFSYNC_CHOICES)}, "
                f"got {settings.redis_appendfsync!r}"
            )
        try:
            find_binary(settings.redis_binary)
        except RedisServerError as e:
            raise PreflightError(str(e)) from None
    _check_log_level(settings)
    _check_database_url(settings)
    _check_destination_tls(settings)


def check_common(settings: Settings) -> None:
    """What every service command needs: a known log level, a usable data dir and store URL."""
    _check_log_level(settings)
    check_data_dir(settings.data_dir)
    _check_database_url(settings)
    _check_destination_tls(settings)


def _check_log_level(settings: Settings) -> None:
    if settings.log_level.upper() not in _LOG_LEVELS:
        raise PreflightError(
            f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {settings.log_level!r}"
        )


def check_data_dir(data_dir: Path) -> None:
    """Create the data dir (0700) if needed and make sure we can write in it."""
    try:
        private_files.make_private_dir(data_dir)
        probe = data_dir / f".write-probe-{time.monotonic_ns()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        reason = "read-only" if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else None
        raise PreflightError(
            f"data dir {data_dir} is not writable ({reason or e.strerror or type(e).__name__}): "
            "choose another with --data-dir (RADFLAG_DATA_DIR)"
        ) from None


def check_redis(settings: Settings, url: str, *, timeout: float = PREFLIGHT_REDIS_TIMEOUT) -> None:
    """An external Redis (or its Sentinels) must answer PING within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    client = keys.redis_client(
        url, timeout=min(1.0, timeout), master_name=settings.redis_master_name
    )
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except (redis.RedisError, OSError) as e:
                last = e
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    finally:
        client.close()
    reason = type(last).__name__ if last is not None else "no answer"
    raise PreflightError(
        f"Redis at {_mask_url(url)} did not answer within {timeout:g} s ({reason}): "
        "start it or fix --redis-url (RADFLAG_REDIS_URL)"
    )


def _check_tls(settings: Settings) -> None:
    from worker import tls

    try:
        tls.listener_context(settings)
    except SettingsError as e:
        raise PreflightError(str(e)) from None


def _check_destination_tls(settings: Settings) -> None:
    from worker import tls

    try:
        tls.destination_context(settings)
    except SettingsError as e:
        raise PreflightError(str(e)) from None


def _check_database_url(settings: Settings) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.effective_database_url)
    except ArgumentError:
        raise PreflightError(
            "database_url is not a database URL (e.g. postgresql://user@host/db)"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise PreflightError(
            f"database_url must be SQLite or PostgreSQL, got {url.get_backend_name()!r}"
        )
