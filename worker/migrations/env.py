"""Alembic environment: migrate through the engine that `alembic_config` carries."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from worker.store_models import Base

# An arbitrary constant: the PostgreSQL advisory lock that serialises upgrades.
_PG_UPGRADE_LOCK = 0x5241_4446


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK}
            )
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
