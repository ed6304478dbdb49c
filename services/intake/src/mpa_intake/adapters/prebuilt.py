"""Statements of the hot paths, written once in the driver's own form.

A statement built per call with SQLAlchemy Core (`insert(...).values(...)`, CTEs) costs its
construction, its cache key and the processing of its parameters on every execution, tens
of microseconds for a wide INSERT; a `Prebuilt` statement is turned once into asyncpg's
positional form (`$1, $2, ...`) and executed with `exec_driver_sql` on the unit of work's
connection (its transaction, its prepared-statement cache). PostgreSQL infers each
parameter's type from where it stands (the column an INSERT fills, a comparison), so the
values are what asyncpg encodes: UUIDs, str, lists, bytes, aware datetimes; JSONB takes
the document's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mpa_common.driver import DriverSql


class Prebuilt:
    """A statement text with `:named` parameters, executed with a mapping of them."""

    def __init__(self, sql: str) -> None:
        positional = DriverSql(sql)
        self.sql = positional.sql
        self.names = positional.names

    async def execute(
        self, session: AsyncSession, parameters: Mapping[str, Any]
    ) -> CursorResult[Any]:
        """On the session's connection, in its transaction."""
        return await self.execute_on(await session.connection(), parameters)

    async def execute_on(
        self, connection: AsyncConnection, parameters: Mapping[str, Any]
    ) -> CursorResult[Any]:
        return await connection.exec_driver_sql(
            self.sql, tuple(parameters[name] for name in self.names)
        )


def insert_values(table: str, columns: tuple[str, ...], prefix: str = "") -> str:
    """`INSERT INTO table (a, b) VALUES (:prefix_a, :prefix_b)`."""
    values = ", ".join(f":{prefix}{column}" for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608 - names from the schema


def insert_select(table: str, columns: tuple[str, ...], prefix: str = "", *, only_if: str) -> str:
    """`INSERT INTO table (a, b) SELECT :prefix_a, :prefix_b WHERE only_if`: one row, or none
    when `only_if` is false (PostgreSQL still types each parameter by the column it fills)."""
    values = ", ".join(f":{prefix}{column}" for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} WHERE {only_if}"
