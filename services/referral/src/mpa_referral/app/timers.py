"""The timer worker: fires due durable timers, each exactly once across all replicas.

Each timer is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside the unit of work that
applies it and marks it fired: a crash before the commit leaves it due (it fires after the
restart), a second replica skips the row another one holds. Timers of any kind: a handler
per kind (SLA deadlines today, legal clocks later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping

from mpa_common.uow import UnitOfWork
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
    ) -> None:
        self._units_of_work = units_of_work
        self._handlers = dict(handlers)
        self._poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.fired = 0

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.fire_due()
            except Exception:
                log.exception("timer pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_seconds)

    async def fire_due(self) -> int:
        """Fires every timer due now, one transaction each; returns how many fired."""
        failed: set[uuid.UUID] = set()  # tried in this pass; retried on the next one
        fired = 0
        while not self._stopping.is_set():
            async with self._units_of_work() as uow:
                timer = await timer_repo.claim_due(uow.session, skip=failed)
                if timer is None:
                    return fired
                handler = self._handlers.get(timer.kind)
                try:
                    outcome = await handler(uow, timer) if handler else "unknown_kind"
                    await timer_repo.mark_fired(uow.session, timer.id, outcome)
                    await uow.commit()
                except Exception:
                    log.exception("timer failed", extra={"timer_kind": timer.kind})
                    failed.add(timer.id)
                    continue
            fired += 1
            self.fired += 1
        return fired
