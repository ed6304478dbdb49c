"""The timer worker: fires due durable timers, each exactly once across all replicas.

Each timer is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside the unit of work that
applies it and marks it fired: a crash (or an outage) before the commit leaves it due, and
it fires afterwards, late but once; a second replica skips the row another one holds.

Failures come in two kinds (`mpa_common.failures`). A transient one (the database is away,
restarting or busy) is nobody's fault: it stops the pass, the periodic worker reports the
dependency down to the service's monitor (one warning per outage, a summary while it lasts,
one line when it is over: no traceback per timer) and tries again every poll, and the next
pass fires everything that fell due meanwhile. Any other failure is the timer's own: it is
logged, counted and tried again later (backing off), and given up as `failed` after
`max_attempts`, so one broken timer never floods the log nor blocks the others.

Between passes the worker does not poll: it sleeps until the earliest unfired timer falls
due (asked in the pass's last transaction, over the partial index `ix_timers_due`), at most
`idle_seconds`, and a commit in this process that schedules a timer due before then wakes
it early (`TimerAlarm`). Timers another replica schedules are that replica's to fire; should
it die first, this one finds them within `idle_seconds`. Passes start at least
`poll_seconds` apart, so timers falling due one after the other are fired in batches as
before (never more often than the old poll), and a due timer another worker holds is looked
at again after `poll_seconds`, as is the database after a transient failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from mpa_common.failures import dependency_of, is_transient
from mpa_common.health import DependencyMonitor
from mpa_referral.app.common import (
    ACCEPTANCE_SLA_TIMER,
    DIRECTORY_RETRY_TIMER,
    START_SLA_TIMER,
    ReferralContext,
    utc_now,
)
from mpa_referral.app.ports import Timer, UnitOfWorkFactory, UnitOfWorkPort
from mpa_referral.app.routing import retry_unroutable
from mpa_referral.app.sla import on_acceptance_sla, on_start_sla

log = logging.getLogger(__name__)

TimerHandler = Callable[[UnitOfWorkPort, Timer], Awaitable[str]]


def referral_timers(ctx: ReferralContext) -> dict[str, TimerHandler]:
    """The handler of each kind of timer the referral service sets."""
    policy, clock = ctx.policy, ctx.clock

    async def acceptance(uow: UnitOfWorkPort, timer: Timer) -> str:
        return await on_acceptance_sla(uow, policy, timer, clock())

    async def start(uow: UnitOfWorkPort, timer: Timer) -> str:
        return await on_start_sla(uow, policy, timer, clock())

    async def directory_changed(uow: UnitOfWorkPort, timer: Timer) -> str:
        return await retry_unroutable(uow, policy, timer, clock())

    return {
        ACCEPTANCE_SLA_TIMER: acceptance,
        START_SLA_TIMER: start,
        DIRECTORY_RETRY_TIMER: directory_changed,
    }


class TimerAlarm:
    """Wakes this process's timer worker when a committed transaction scheduled a timer due
    before the worker means to look again; one due later changes nothing (it looks by then).

    `scheduled` is called after the commit (never for a rolled-back timer). While the worker
    is in a pass (it may or may not see the new timer) the earliest due time heard is kept,
    and the sleep that follows ends by then.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._wakes_at: datetime | None = None  # when the sleeping worker looks anyway
        self._heard: datetime | None = None  # earliest due time heard while it was awake

    def scheduled(self, due_at: datetime) -> None:
        if self._wakes_at is None:
            if self._heard is None or due_at < self._heard:
                self._heard = due_at
        elif due_at < self._wakes_at:
            self._event.set()

    def ring(self) -> None:
        """Ends the current sleep now (the worker stopping)."""
        self._event.set()

    async def sleep(self, seconds: float) -> None:
        """Sleeps `seconds`, or less if a timer due sooner is (or was, while the worker was
        awake) scheduled here."""
        now = utc_now()
        wakes_at = now + timedelta(seconds=max(seconds, 0.0))
        heard, self._heard = self._heard, None
        if heard is not None and heard < wakes_at:
            wakes_at = heard
        seconds = (wakes_at - now).total_seconds()
        if seconds <= 0:
            return
        self._event.clear()
        self._wakes_at = wakes_at
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), seconds)
        finally:
            self._wakes_at = None


class TimerWorker:
    name = "timer-worker"

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        handlers: Mapping[str, TimerHandler],
        *,
        poll_seconds: float = 1.0,
        idle_seconds: float = 5.0,
        max_attempts: int = 10,
        monitor: DependencyMonitor | None = None,
        alarm: TimerAlarm | None = None,
    ) -> None:
        self._units_of_work = units_of_work
        self._handlers = dict(handlers)
        self._max_attempts = max_attempts
        self._poll = poll_seconds
        self._idle = max(idle_seconds, poll_seconds)
        self._monitor = monitor or DependencyMonitor()
        self._alarm = alarm or TimerAlarm()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._due_in: float | None = None  # as the last pass's last transaction saw it
        self.fired = 0
        self.passes = 0

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        self._alarm.ring()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            started = loop.time()
            self.passes += 1
            try:
                await self.fire_due()
            except Exception as error:  # the next pass, a poll later, tries again
                if is_transient(error):
                    self._monitor.down(dependency_of(error), worker=self.name, error=error)
                else:
                    log.exception("timer pass failed; retrying", extra={"worker": self.name})
                wait = self._poll
            else:
                self._monitor.up_everywhere(self.name)
                due_in = self._due_in
                wait = self._idle if due_in is None else min(max(due_in, 0.0), self._idle)
            wake_at = loop.time() + wait
            # Passes at least a poll apart: what is heard meanwhile shortens only the sleep.
            pause = started + self._poll - loop.time()
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)
            if self._stopping.is_set():
                break
            await self._alarm.sleep(wake_at - loop.time())

    async def fire_due(self) -> int:
        """Fires every timer due now, one transaction each; returns how many fired. A
        transient failure is raised: not the timers' fault, the whole pass waits. The
        transaction that finds none due also asks when the next one is (`_due_in`)."""
        failed: set[uuid.UUID] = set()  # failed in this pass; tried again later
        fired = 0
        while not self._stopping.is_set():
            async with self._units_of_work() as uow:
                timer = await uow.timers.claim_due(skip=failed)
                if timer is None:
                    self._due_in = await uow.timers.next_due_in()
                    return fired
                handler = self._handlers.get(timer.kind)
                try:
                    outcome = await handler(uow, timer) if handler else "unknown_kind"
                    await uow.timers.mark_fired(timer.id, outcome)
                    await uow.commit()
                except Exception as error:
                    if is_transient(error):
                        raise
                    failed.add(timer.id)
                    failure = error
                else:
                    fired += 1
                    self.fired += 1
                    continue
            await self._failed(timer, failure)
        return fired

    async def _failed(self, timer: Timer, error: Exception) -> None:
        """The timer's own failure: counted, and tried again after a growing pause, or given
        up once it has failed `max_attempts` times."""
        attempts = timer.attempts + 1
        give_up = attempts >= self._max_attempts
        async with self._units_of_work() as uow:
            if give_up:
                await uow.timers.mark_fired(timer.id, "failed")
            else:
                pause = timedelta(seconds=min(2.0**attempts, 300.0))
                await uow.timers.postpone(timer.id, until=utc_now() + pause)
            await uow.commit()
        log.error(
            "timer gave up" if give_up else "timer failed; retrying later",
            exc_info=error,
            extra={"timer_kind": timer.kind, "attempts": attempts},
        )
