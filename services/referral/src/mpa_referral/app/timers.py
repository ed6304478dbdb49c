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
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from mpa_common.failures import is_transient
from mpa_common.health import DependencyMonitor
from mpa_common.workers import PeriodicWorker
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


class TimerWorker:
    name = "timer-worker"

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        handlers: Mapping[str, TimerHandler],
        *,
        poll_seconds: float = 1.0,
        max_attempts: int = 10,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self._units_of_work = units_of_work
        self._handlers = dict(handlers)
        self._max_attempts = max_attempts
        self.fired = 0
        self._periodic = PeriodicWorker(self.name, self.fire_due, poll_seconds, monitor=monitor)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def fire_due(self) -> int:
        """Fires every timer due now, one transaction each; returns how many fired. A
        transient failure is raised: not the timers' fault, the whole pass waits."""
        failed: set[uuid.UUID] = set()  # failed in this pass; tried again later
        fired = 0
        while not self._periodic.stopping:
            async with self._units_of_work() as uow:
                timer = await uow.timers.claim_due(skip=failed)
                if timer is None:
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
