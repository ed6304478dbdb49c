"""The timer worker: fires due durable timers, each exactly once across all replicas.

Each timer is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside the unit of work that
applies it and marks it fired: a crash before the commit leaves it due (it fires after the
restart), a second replica skips the row another one holds. Timers of any kind: a handler
per kind (SLA deadlines today, legal clocks later).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from mpa_common.failures import is_transient
from mpa_common.health import DependencyMonitor
from mpa_common.uow import UnitOfWork
from mpa_common.workers import PeriodicWorker
from mpa_referral.adapters import timer_repository as timer_repo
from mpa_referral.adapters.timer_repository import Timer

log = logging.getLogger(__name__)

TimerHandler = Callable[[UnitOfWork, Timer], Awaitable[str]]
UnitOfWorkFactory = Callable[[], UnitOfWork]


class TimerWorker:
    name = "timer-worker"

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        handlers: Mapping[str, TimerHandler],
        *,
        poll_seconds: float = 1.0,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self._units_of_work = units_of_work
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
                timer = await timer_repo.claim_due(uow.session, skip=failed)
                if timer is None:
                    return fired
                handler = self._handlers.get(timer.kind)
                try:
                    outcome = await handler(uow, timer) if handler else "unknown_kind"
                    await timer_repo.mark_fired(uow.session, timer.id, outcome)
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
