"""Alembic migrations of the message store, run by `open_store` and `radflag db upgrade`.

Strategy: no alembic.ini; the configuration is built here and the migration
scripts are found beside this file with importlib.resources, so it works from
an installed wheel. Several processes (Celery workers) may open the store at
once, so the upgrade runs under a lock: a file lock in the data directory for
SQLite, an advisory lock for PostgreSQL (taken in env.py).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic Config whose env.py migrates through `engine`."""
    config = Config()
    config.set_main_option("script_location", str(resources.files(__package__)))
    config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this version of radflag knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_to_head(engine: Engine, *, lock_dir: Path | None = None) -> bool:
    """Bring the schema to the head revision; True if a migration ran.

    `lock_dir` holds the lock file that serialises SQLite upgrades across processes.
    """
    if current_revision(engine) == head_revision(engine):
        return False
    lock: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if engine.dialect.name == "sqlite" and lock_dir is not None:
        lock = _file_lock(lock_dir / "radflag-migrate.lock")
    with lock:
        command.upgrade(alembic_config(engine), "head")
    return True
