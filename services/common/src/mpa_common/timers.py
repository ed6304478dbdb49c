"""Durable timers, written once for every service: a table, its statements, and the worker
that fires due timers, each exactly once across all replicas and restarts.

A use case schedules a timer in its own transaction (`schedule`), so the timer exists
exactly when the change that needs it committed. The worker claims the earliest due timer
with SELECT ... FOR UPDATE SKIP LOCKED inside the unit of work that applies it and marks it
fired there: a crash before the commit leaves it due (it fires after the restart), a
second replica skips the row another one holds, and a fired timer is never claimed again.
One handler per timer kind; a handler returns a short outcome code that is kept with it.

This is the design of the referral service's SLA timers (`mpa_referral.app.timers`), lifted
here so intake's follow-up timers share it; a service adds the table to its metadata with
`add_timers_table` and creates it in one of its migrations.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.failures import is_transient
from mpa_common.health import DependencyMonitor
from mpa_common.uow import UnitOfWork
from mpa_common.workers import PeriodicWorker

log = logging.getLogger(__name__)

U = TypeVar("U", bound=UnitOfWork)


def add_timers_table(metadata: MetaData, name: str = "timers") -> Table:
    """The timers table in a service's metadata (the referral service's shape)."""
    return Table(
        name,
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("kind", String(60), nullable=False),
        Column("subject_id", UUID(as_uuid=True), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("fired_at", DateTime(timezone=True), nullable=True),
        Column("outcome", String(40), nullable=True),
        Index(f"ix_{name}_due", "due_at", postgresql_where=text("fired_at IS NULL")),
        Index(f"ix_{name}_subject", "kind", "subject_id"),
    )


@dataclass(frozen=True, slots=True)
class Timer:
    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    due_at: datetime
    payload: Mapping[str, Any]


class TimerStore:
    """The statements on one timers table, run on a unit of work's session."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def schedule(
        self,
        session: AsyncSession,
        *,
        kind: str,
        subject_id: uuid.UUID,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        timer_id = uuid.uuid4()
        await session.execute(
            self.table.insert().values(
                id=timer_id,
                kind=kind,
                subject_id=subject_id,
                due_at=due_at,
                payload=dict(payload or {}),
            )
        )
        return timer_id

    async def cancel(self, session: AsyncSession, *, kind: str, subject_id: uuid.UUID) -> int:
        """Marks the subject's unfired timers of `kind` fired with outcome `cancelled`."""
        result = await session.execute(
            update(self.table)
            .where(self.table.c.kind == kind)
            .where(self.table.c.subject_id == subject_id)
            .where(self.table.c.fired_at.is_(None))
            .values(fired_at=func.now(), outcome="cancelled")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim_due(
        self, session: AsyncSession, *, skip: Collection[uuid.UUID] = ()
    ) -> Timer | None:
        """Locks the earliest due timer nobody else holds; None when there is none."""
        table = self.table
        query = (
            select(table)
            .where(table.c.fired_at.is_(None))
            .where(table.c.due_at <= func.now())
            .order_by(table.c.due_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skip:
            query = query.where(table.c.id.not_in(list(skip)))
        row = (await session.execute(query)).mappings().first()
        if row is None:
            return None
        return Timer(row["id"], row["kind"], row["subject_id"], row["due_at"], row["payload"])

    async def mark_fired(self, session: AsyncSession, timer_id: uuid.UUID, outcome: str) -> None:
        await session.execute(
            update(self.table)
            .where(self.table.c.id == timer_id)
            .values(fired_at=func.now(), outcome=outcome)
        )


TimerHandler = Callable[[U, Timer], Awaitable[str]]


class TimerWorker(Generic[U]):
    """Fires due timers now and then (every `poll_seconds`), one transaction each."""

    name = "timer-worker"

    def __init__(
        self,
        units_of_work: Callable[[], U],
        store: TimerStore,
        handlers: Mapping[str, TimerHandler[U]],
        *,
        poll_seconds: float = 1.0,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self._units_of_work = units_of_work
        self._store = store
        self._handlers = dict(handlers)
        self.fired = 0
        self._periodic = PeriodicWorker(self.name, self.fire_due, poll_seconds, monitor=monitor)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def fire_due(self) -> int:
        """Fires every timer due now, one transaction each; returns how many fired."""
        failed: set[uuid.UUID] = set()  # tried in this pass; retried on the next one
        fired = 0
        while not self._periodic.stopping:
            async with self._units_of_work() as uow:
                timer = await self._store.claim_due(uow.session, skip=failed)
                if timer is None:
                    return fired
                handler = self._handlers.get(timer.kind)
                try:
                    outcome = await handler(uow, timer) if handler else "unknown_kind"
                    await self._store.mark_fired(uow.session, timer.id, outcome)
                    await uow.commit()
                except Exception as error:
                    if is_transient(error):
                        raise  # the database is away: the whole pass waits (PeriodicWorker)
                    log.exception("timer failed", extra={"timer_kind": timer.kind})
                    failed.add(timer.id)
                    continue
            fired += 1
            self.fired += 1
        return fired
