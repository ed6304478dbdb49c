"""The async SQLAlchemy engine and session factory each service builds once at start-up."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def connection_settings(application_name: str, schema: str = "") -> dict[str, str]:
    """PostgreSQL session settings for a service's connections.

    `schema` puts the service's tables in a schema of their own (search_path), so several
    deployments — or isolated test runs of a whole service — can share one database.
    """
    settings = {"application_name": application_name}
    if schema:
        settings["search_path"] = schema
    return settings


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 0,
    application_name: str = "mpa",
    schema: str = "",
    command_timeout: float = 60.0,
) -> AsyncEngine:
    # No pool_pre_ping: it costs a round trip per checkout. A connection the server dropped
    # fails once with a disconnect error; SQLAlchemy then invalidates the pool's older
    # connections, and the caller treats the error as transient (retry, or 503).
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args={
            "server_settings": connection_settings(application_name, schema),
            "command_timeout": command_timeout,
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: use cases return what they wrote after the commit.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database; raises when it cannot be reached."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
