"""Rows a unit of work adds, sent to the database together: one statement per flush.

A referral's creation writes its row, its routing attempt, its history entries and its SLA
timer; a batch of cases writes that for every need. Sent one by one, each is a round trip
(and on a busy machine a context switch); buffered, a whole transaction's rows go in one
statement. The repositories flush the buffer before any read or update of a buffered
table, and the unit of work before it commits, so a transaction always reads its own
writes.

The statement inserts into each table that has rows in a data-modifying WITH of its own
(foreign keys are checked at the end of the statement, so a need and its referral, a
referral and its attempt and history may go together), each table's rows as one array per
column through unnest(). Its text is fixed per set of tables and columns (built once, and
prepared once per connection by asyncpg): executemany per table cost a round trip per
table and processed and sent every row as a parameter set of its own (SQLAlchemy's per-row
parameter processing was most of a flush's CPU), and a multi-row VALUES would be compiled
anew for every number of rows. WITH ORDINALITY keeps each table's rows in the order they
were added (identity ids, e.g. of history entries, follow it as they did).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_referral.adapters.tables import (
    case_needs,
    referral_history,
    referrals,
    routing_attempts,
    timers,
)

_ORDER = (case_needs, referrals, routing_attempts, referral_history, timers)
# A replayed case event adds the needs it added before: those rows are skipped.
_SKIP_CONFLICTS = frozenset({case_needs})


_Shape = tuple[tuple[Table, tuple[str, ...]], ...]  # each insert's table and columns
_Run = tuple[tuple[str, ...], list[dict[str, Any]]]  # rows that name the same columns


@dataclass(frozen=True, slots=True)
class _Flush:
    statement: TextClause
    # Per insert: its parameters' names and what SQLAlchemy would do to each column's
    # values (JSONB: serialised), or None.
    inserts: tuple[tuple[tuple[str, Callable[[Any], Any] | None], ...], ...]

    def parameters(self, runs: Sequence[_Run]) -> dict[str, list[Any]]:
        parameters: dict[str, list[Any]] = {}
        for (columns, rows), names in zip(runs, self.inserts, strict=True):
            for (name, process), column in zip(names, columns, strict=True):
                parameters[name] = (
                    [row[column] for row in rows]
                    if process is None
                    else [process(row[column]) for row in rows]
                )
        return parameters


_FLUSHES: dict[tuple[_Shape, Dialect], _Flush] = {}


def _flush_statement(shape: _Shape, dialect: Dialect) -> _Flush:
    found = _FLUSHES.get((shape, dialect))
    if found is not None:
        return found
    quote = dialect.identifier_preparer.quote
    inserts: list[str] = []
    names: list[tuple[tuple[str, Callable[[Any], Any] | None], ...]] = []
    for index, (table, columns) in enumerate(shape):
        listed = ", ".join(quote(c) for c in columns)
        arrays = ", ".join(
            f"CAST(:p{index}_{position} AS {table.c[c].type.compile(dialect=dialect)}[])"
            for position, c in enumerate(columns)
        )
        inserts.append(
            f"INSERT INTO {quote(table.name)} ({listed}) SELECT {listed} "  # noqa: S608 - names from the table metadata, no input
            f"FROM unnest({arrays}) WITH ORDINALITY AS r({listed}, ordinality) "
            "ORDER BY r.ordinality"
            + (" ON CONFLICT DO NOTHING" if table in _SKIP_CONFLICTS else "")
        )
        names.append(
            tuple(
                (f"p{index}_{position}", table.c[c].type._cached_bind_processor(dialect))
                for position, c in enumerate(columns)
            )
        )
    *first, last = inserts
    sql = last
    if first:
        sql = "WITH " + ", ".join(f"w{i} AS ({s})" for i, s in enumerate(first)) + " " + last
    found = _FLUSHES[(shape, dialect)] = _Flush(text(sql), tuple(names))
    return found


def _runs(rows: Sequence[dict[str, Any]]) -> list[_Run]:
    """The rows in runs that name the same columns (one run, as the repositories add them)."""
    runs: list[_Run] = []
    for row in rows:
        columns = tuple(row)
        if runs and runs[-1][0] == columns:
            runs[-1][1].append(row)
        else:
            runs.append((columns, [row]))
    return runs


class WriteBuffer:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in _ORDER}
        self._empty = True

    def add(self, table: Table, *rows: dict[str, Any]) -> None:
        self._rows[table].extend(rows)
        self._empty = False

    async def flush(self) -> None:
        if self._empty:
            return
        self._empty = True
        runs: list[_Run] = []
        shape: list[tuple[Table, tuple[str, ...]]] = []
        for table in _ORDER:
            rows = self._rows[table]
            if rows:
                self._rows[table] = []
                for columns, run in _runs(rows):
                    runs.append((columns, run))
                    shape.append((table, columns))
        flush = _flush_statement(tuple(shape), self._session.get_bind().dialect)
        await self._session.execute(flush.statement, flush.parameters(runs))
