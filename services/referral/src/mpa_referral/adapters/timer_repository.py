"""Durable timers: scheduled in a use case's transaction, claimed once by whichever worker
gets there first (FOR UPDATE SKIP LOCKED), marked fired in the transaction that applies them."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_referral.adapters.tables import timers


@dataclass(frozen=True, slots=True)
class Timer:
    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    due_at: datetime
    payload: Mapping[str, Any]


async def schedule(
    session: AsyncSession,
    *,
    kind: str,
    subject_id: uuid.UUID,
    due_at: datetime,
    payload: Mapping[str, Any] | None = None,
) -> uuid.UUID:
    timer_id = uuid.uuid4()
    await session.execute(
        timers.insert().values(
            id=timer_id,
            kind=kind,
            subject_id=subject_id,
            due_at=due_at,
            payload=dict(payload or {}),
        )
    )
    return timer_id


async def claim_due(session: AsyncSession, *, skip: Collection[uuid.UUID] = ()) -> Timer | None:
    """Locks the earliest due timer nobody else holds; None when there is none."""
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
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    return Timer(row["id"], row["kind"], row["subject_id"], row["due_at"], row["payload"])


async def mark_fired(session: AsyncSession, timer_id: uuid.UUID, outcome: str) -> None:
    await session.execute(
        update(timers).where(timers.c.id == timer_id).values(fired_at=func.now(), outcome=outcome)
    )
