"""The asyncpg connection under a unit of work's session, for the hot statements.

The delivery queue's and the fan-out's statements go to the driver directly: they skip
SQLAlchemy's statement building and result processing (a third of the dispatcher's time in
profiles), are prepared once per connection (asyncpg's statement cache) and send arrays
instead of one row per parameter set. They run inside the session's transaction, which
SQLAlchemy commits or rolls back as its own.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_of(session: AsyncSession, *, transaction: bool = True) -> asyncpg.Connection:
    """The driver connection of the session, inside its transaction (begun if need be);
    `transaction=False`: as it is (a lone read runs as its own implicit transaction, and
    nothing is sent to begin or end one)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    if transaction and not driver.is_in_transaction():
        await _begin(raw.dbapi_connection, session)
    return driver


async def _begin(adapter: Any, session: AsyncSession) -> None:
    """Begins the session's transaction with BEGIN alone.

    SQLAlchemy's asyncpg adapter begins it lazily, before its own first statement; the
    driver's statements need it begun first. Through the adapter's own begin (no statement
    besides BEGIN), so that SQLAlchemy ends it as its own; through a statement of the
    session where that hook is missing (another SQLAlchemy version).
    """
    start = getattr(adapter, "_start_transaction", None)
    if start is not None and getattr(adapter, "_transaction", False) is None:
        await start()
    else:
        await session.execute(text("SELECT 1"))
