"""The asyncpg connection under a unit of work's session, for the hot statements.

A statement sent to the driver directly skips SQLAlchemy's statement building, parameter
processing and result processing: measured with `bench/round_trip.py` on the 2-core bench
machine, a small statement costs its process 158 us of CPU through `session.execute`, 114 us
through `exec_driver_sql` and 43 us on the driver. It is prepared once per connection
(asyncpg's statement cache) and runs inside the session's transaction, which SQLAlchemy
commits or rolls back as its own. The values are what asyncpg encodes: UUIDs, str, lists,
bytes, aware datetimes; a JSONB parameter takes the document's text (SQLAlchemy's codec on
the connection), nothing passes through SQLAlchemy's type processing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_SERVICES_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
# `:name`, not the second colon of a `::type` cast.
_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


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


class DriverSql:
    """A statement in the driver's positional form (`$1`, `$2`, ...), made once, run with a
    mapping of its parameters by name: from a text with `:named` parameters, or from a
    SQLAlchemy Core statement (`DriverSql.of`)."""

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def position(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _NAMED.sub(position, sql)
        self.names = tuple(names)
        self._fixed: dict[str, Any] = {}

    @classmethod
    def of(cls, statement: ClauseElement) -> DriverSql:
        """The text SQLAlchemy sends for `statement` on asyncpg (the services' dialect), its
        literal values (`where(column == "active")`) fixed; the caller gives the rest."""
        compiled = statement.compile(dialect=_SERVICES_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        made = cls.__new__(cls)
        made.sql = str(compiled)
        made.names = tuple(compiled.positiontup or ())
        made._fixed = {
            name: compiled.binds[name].value
            for name in made.names
            if not compiled.binds[name].required
        }
        return made

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        fixed = self._fixed
        return tuple(
            parameters[name] if name in parameters or name not in fixed else fixed[name]
            for name in self.names
        )

    async def fetch(
        self, driver: asyncpg.Connection, parameters: Mapping[str, Any]
    ) -> list[asyncpg.Record]:
        return list(await driver.fetch(self.sql, *self.arguments(parameters)))

    async def fetchrow(
        self, driver: asyncpg.Connection, parameters: Mapping[str, Any]
    ) -> asyncpg.Record | None:
        return await driver.fetchrow(self.sql, *self.arguments(parameters))
