"""Rows a unit of work adds, sent to the database together: one statement per table.

A referral's creation writes its row, its routing attempt, its history entries and its SLA
timer; a batch of cases writes that for every need. Sent one by one, each is a round trip
(and on a busy machine a context switch); buffered, a whole transaction's rows go in a few
multi-row statements. The repositories flush the buffer before any read or update of a
buffered table, and the unit of work before it commits, so a transaction always reads its
own writes. Tables are flushed parents first (a need before its referral, a referral before
its attempt and history).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_referral.adapters.tables import (
    case_needs,
    referral_history,
    referrals,
    routing_attempts,
    timers,
)

_ORDER = (case_needs, referrals, routing_attempts, referral_history, timers)


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
        for table in _ORDER:
            rows = self._rows[table]
            if rows:
                self._rows[table] = []
                statement = insert(table)
                if table is case_needs:  # a replayed event adds the needs it added before
                    statement = statement.on_conflict_do_nothing()
                await self._session.execute(statement, rows)
