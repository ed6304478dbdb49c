"""The timer worker's loop on the in-memory store: it sleeps until the next timer falls due
instead of polling, and a commit here that schedules a sooner one wakes it (real time, a
few hundred milliseconds each)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta
from typing import Any

import pytest

from mpa_referral.app.ports import Timer
from mpa_referral.app.timers import TimerAlarm, TimerWorker
from mpa_referral.testing import MemoryStore, MemoryTimerRepository, MemoryUnitOfWork

KIND = "test.kind"
LONG = 3600.0  # the idle cap: a test that waits for it would time out


class Queries:
    """How often the worker asked the store for timers."""

    def __init__(self) -> None:
        self.claims = 0
        self.next_due = 0


class CountingTimers(MemoryTimerRepository):
    def __init__(self, store: MemoryStore, queries: Queries) -> None:
        super().__init__(store)
        self._queries = queries

    async def claim_due(self, *, skip: Collection[uuid.UUID] = ()) -> Timer | None:
        self._queries.claims += 1
        return await super().claim_due(skip=skip)

    async def next_due_in(self) -> float | None:
        self._queries.next_due += 1
        return await super().next_due_in()


class CountingUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: MemoryStore, queries: Queries) -> None:
        super().__init__(store)
        self._queries = queries

    def _bind(self) -> None:
        super()._bind()
        self.timers = CountingTimers(self.store, self._queries)


class World:
    def __init__(self, *, alarmed: bool = True) -> None:
        self.store = MemoryStore()
        self.alarm = TimerAlarm()
        if alarmed:
            self.store.timer_scheduled = self.alarm.scheduled
        self.queries = Queries()
        self.fired_at: dict[uuid.UUID, float] = {}

        async def handler(uow: Any, timer: Timer) -> str:
            self.fired_at[timer.id] = time.monotonic()
            return "fired"

        self.worker = TimerWorker(
            lambda: CountingUnitOfWork(self.store, self.queries),
            {KIND: handler},
            poll_seconds=0.01,
            idle_seconds=LONG,
            alarm=self.alarm,
        )

    async def schedule(self, in_seconds: float, *, commit: bool = True) -> uuid.UUID:
        async with self.store.units_of_work() as uow:
            timer_id = await uow.timers.schedule(
                kind=KIND, subject_id=uuid.uuid4(), due_at=self.due(in_seconds)
            )
            if commit:
                await uow.commit()
        return timer_id

    def due(self, in_seconds: float) -> datetime:
        return self.store.clock() + timedelta(seconds=in_seconds)

    async def fired(self, timer_id: uuid.UUID, within: float) -> float:
        """When the timer fired (monotonic), waiting at most `within` seconds."""
        deadline = time.monotonic() + within
        while timer_id not in self.fired_at:
            assert time.monotonic() < deadline, "the timer did not fire"
            await asyncio.sleep(0.005)
        return self.fired_at[timer_id]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    world = World()
    await world.worker.start()
    yield world
    started = time.monotonic()
    await world.worker.stop()
    assert time.monotonic() - started < 1.0  # stopping ends the long sleep at once


async def asleep(world: World) -> None:
    """Lets the worker make its first pass and fall asleep (for up to an hour)."""
    await asyncio.sleep(0.1)
    assert world.worker.passes == 1


async def test_a_timer_scheduled_while_the_worker_sleeps_long_fires_promptly(
    world: World,
) -> None:
    await asleep(world)
    committed = time.monotonic()
    due_now = await world.schedule(0.0)
    assert await world.fired(due_now, within=2.0) - committed < 1.0
    # One due a little later wakes the worker, which sleeps until it is due.
    committed = time.monotonic()
    soon = await world.schedule(0.3)
    fired = await world.fired(soon, within=3.0)
    assert 0.3 <= fired - committed < 1.5
    assert world.fired_at.keys() == {due_now, soon}


async def test_the_worker_does_not_query_while_nothing_is_due(world: World) -> None:
    await world.schedule(LONG * 2)  # due long after the idle cap
    await asyncio.sleep(0.5)  # 50 polls of the old loop (poll every 0.01 s)
    assert world.worker.passes == 1
    assert (world.queries.claims, world.queries.next_due) == (1, 1)
    # Timers due later than the worker looks anyway, or rolled back, do not wake it.
    passes = world.worker.passes
    await world.schedule(LONG * 3)
    await world.schedule(0.0, commit=False)
    await asyncio.sleep(0.3)
    assert world.worker.passes == passes
    assert world.fired_at == {}


async def test_the_worker_sleeps_until_a_timer_nobody_told_it_of_falls_due() -> None:
    """A timer scheduled elsewhere (another replica: no alarm here) before the worker
    looked: it sleeps until that one is due, not an idle cap, and polls nothing meanwhile."""
    world = World(alarmed=False)
    soon = await world.schedule(0.4)
    started = time.monotonic()
    await world.worker.start()
    try:
        fired = await world.fired(soon, within=3.0)
        assert 0.35 <= fired - started < 2.0
        await asyncio.sleep(0.1)
        assert world.worker.passes == 2  # asleep in between; its last pass found none due
        assert world.queries.claims == 3  # none due; the timer; none due
    finally:
        await world.worker.stop()
