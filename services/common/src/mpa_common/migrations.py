"""Alembic glue shared by every service's `migrations/env.py` (one history per service).

Migrations run with the service's own database URL (`<SERVICE>_DATABASE_URL`, or
`<SERVICE>_MIGRATIONS_DATABASE_URL` when the schema owner differs from the runtime role).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.settings import ServiceSettings


def migrations_url(settings: ServiceSettings) -> str:
    return settings.migrations_database_url.get_secret_value()


def run_alembic_env(metadata: MetaData, settings: ServiceSettings) -> None:
    """The body of a service's env.py: offline (SQL script) or online (async engine)."""
    url = migrations_url(settings)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata, settings.database_schema))


async def _run_online(url: str, metadata: MetaData, schema: str) -> None:
    server_settings = {"search_path": schema} if schema else {}
    engine = create_async_engine(
        url, poolclass=pool.NullPool, connect_args={"server_settings": server_settings}
    )
    try:
        async with engine.connect() as connection:
            if schema:
                # The schema owner creates it; tables and alembic_version then live in it.
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.commit()
            await connection.run_sync(_migrate, metadata)
    finally:
        await engine.dispose()


def _migrate(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
