"""Database connection details this service adds to the shared engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

# Query parameters of the database URL that are PostgreSQL settings, not asyncpg arguments.
_SERVER_SETTINGS_IN_URL = ("search_path",)


def honour_server_settings_in_url(engine: AsyncEngine) -> None:
    """Applies `?search_path=...` in the database URL to every SQLAlchemy connection.

    asyncpg (which the outbox relay uses directly) treats such query parameters as server
    settings; SQLAlchemy passes them as keyword arguments asyncpg refuses. Moving them into
    `server_settings` makes both agree, so one URL can point the service at a schema (tests
    and benchmarks run in a private schema of the service's database that way).
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _move_to_server_settings(
        dialect: Dialect, record: ConnectionPoolEntry, cargs: Any, cparams: dict[str, Any]
    ) -> None:
        for name in _SERVER_SETTINGS_IN_URL:
            if name in cparams:
                server_settings = dict(cparams.get("server_settings") or {})
                server_settings[name] = cparams.pop(name)
                cparams["server_settings"] = server_settings
