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

At commit the transaction's outbox rows go in the same statement (`flush(outbox=...)`):
one more data-modifying WITH, the outbox insert with its per-key locks (see
adapters/uow.py), instead of a round trip of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.messaging.outbox import outbox_insert_sql
from mpa_referral.adapters.tables import (
    case_needs,
    outbox,
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


_FLUSHES: dict[tuple[_Shape, Dialect, bool], _Flush] = {}
# The outbox rows with their per-key locks, taken before any row takes its position
# (mpa_common.messaging.outbox: the PER_KEY commit order).
_OUTBOX_INSERT = outbox_insert_sql(outbox.name, locked=True)
_OUTBOX_ONLY = text(_OUTBOX_INSERT)


def _flush_statement(shape: _Shape, dialect: Dialect, with_outbox: bool) -> _Flush:
    found = _FLUSHES.get((shape, dialect, with_outbox))
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
    if with_outbox:
        # Its own WITH (the locks) nests in a WITH of the statement: it goes first, the
        # buffer's last insert stays the statement's own.
        inserts.insert(0, _OUTBOX_INSERT)
    *first, last = inserts
    sql = last
    if first:
        sql = "WITH " + ", ".join(f"w{i} AS ({s})" for i, s in enumerate(first)) + " " + last
    found = _FLUSHES[(shape, dialect, with_outbox)] = _Flush(text(sql), tuple(names))
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
        # Only the tables that have rows (most units of work add to few, many to none).
        self._rows: dict[Table, list[dict[str, Any]]] = {}

    def add(self, table: Table, *rows: dict[str, Any]) -> None:
        found = self._rows.get(table)
        if found is None:
            self._rows[table] = list(rows)
        else:
            found.extend(rows)

    async def flush(self, *, outbox: dict[str, Any] | None = None) -> None:
        """Sends the rows held back, and `outbox`'s rows (the parameters of
        `_OUTBOX_INSERT`), in one statement."""
        held = self._rows
        if not held and outbox is None:
            return
        self._rows = {}
        runs: list[_Run] = []
        shape: list[tuple[Table, tuple[str, ...]]] = []
        for table in _ORDER:
            rows = held.get(table)
            if rows:
                for columns, run in _runs(rows):
                    runs.append((columns, run))
                    shape.append((table, columns))
        if not shape:
            if outbox is not None:
                await self._session.execute(_OUTBOX_ONLY, outbox)
            return
        flush = _flush_statement(tuple(shape), self._session.get_bind().dialect, outbox is not None)
        parameters = flush.parameters(runs)
        if outbox is not None:
            parameters.update(outbox)
        await self._session.execute(flush.statement, parameters)
