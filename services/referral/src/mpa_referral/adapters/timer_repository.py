"""Durable timers on PostgreSQL: scheduled in a use case's transaction, claimed once by
whichever worker gets there first (FOR UPDATE SKIP LOCKED), marked fired in the
transaction that applies them (see app/ports.py for the contract). `on_scheduled` hears the
due time of each timer scheduled (the unit of work passes it on once the transaction has
committed, to wake this process's timer worker)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_referral.adapters.tables import timers
from mpa_referral.adapters.write_buffer import WriteBuffer
from mpa_referral.app.ports import Timer

_NEXT_DUE_IN = select(func.extract("epoch", func.min(timers.c.due_at) - func.now())).where(
    timers.c.fired_at.is_(None)
)


class SqlTimerRepository:
    def __init__(
        self,
        session: AsyncSession,
        buffer: WriteBuffer,
        on_scheduled: Callable[[datetime], None] | None = None,
    ) -> None:
        self._session = session
        self._buffer = buffer
        self._on_scheduled = on_scheduled

    async def schedule(
        self,
        *,
        kind: str,
        subject_id: uuid.UUID,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        timer_id = uuid.uuid4()
        self._buffer.add(
            timers,
            {
                "id": timer_id,
                "kind": kind,
                "subject_id": subject_id,
                "due_at": due_at,
                "payload": dict(payload or {}),
            },
        )
        if self._on_scheduled is not None:
            self._on_scheduled(due_at)
        return timer_id

    async def claim_due(self, *, skip: Collection[uuid.UUID] = ()) -> Timer | None:
        await self._buffer.flush()
        query = (
            select(timers)
            .where(timers.c.fired_at.is_(None))
            .where(timers.c.due_at <= func.now())
            .order_by(timers.c.due_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skip:
            query = query.where(timers.c.id.not_in(list(skip)))
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return Timer(
            row["id"],
            row["kind"],
            row["subject_id"],
            row["due_at"],
            row["payload"],
            row["attempts"],
        )

    async def next_due_in(self) -> float | None:
        await self._buffer.flush()
        # min() over the partial index ix_timers_due: one index probe.
        seconds = await self._session.scalar(_NEXT_DUE_IN)
        return None if seconds is None else float(seconds)

    async def mark_fired(self, timer_id: uuid.UUID, outcome: str) -> None:
        await self._buffer.flush()
        await self._session.execute(
            update(timers)
            .where(timers.c.id == timer_id)
            .values(fired_at=func.now(), outcome=outcome)
        )

    async def postpone(self, timer_id: uuid.UUID, *, until: datetime) -> None:
        await self._buffer.flush()
        await self._session.execute(
            update(timers)
            .where(timers.c.id == timer_id)
            .values(due_at=until, attempts=timers.c.attempts + 1)
        )
