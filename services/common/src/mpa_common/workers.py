"""Starting background workers without making start-up depend on Kafka being up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from mpa_common.failures import dependency_of, describe, is_transient
from mpa_common.health import DependencyMonitor

log = logging.getLogger(__name__)


class BackgroundWorker(Protocol):
    """Something that runs beside the HTTP server for the service's whole life."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class StartedInBackground:
    """Wraps a worker whose `start` needs the broker (a consumer joining its group).

    Its start is retried with backoff in a task, so the service comes up and answers
    /readyz with "kafka: ..." while the broker is down, and the consumer joins once it is
    back, rather than the whole process failing at start-up.
    """

    def __init__(
        self,
        worker: BackgroundWorker,
        *,
        first_retry: float = 1.0,
        max_retry: float = 30.0,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self.name = worker.name
        self._worker = worker
        self._monitor = monitor or DependencyMonitor()
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._start_until_started(), name=f"start {self.name}")

    async def _start_until_started(self) -> None:
        delay = self._first_retry
        while True:
            try:
                await self._worker.start()
            except Exception as error:  # the broker or a topic is missing: try again later
                if is_transient(error):
                    self._monitor.down(dependency_of(error), worker=self.name, error=error)
                else:
                    log.warning(
                        "worker could not start; retrying",
                        extra={"worker": self.name, "error": describe(error), "retry_s": delay},
                    )
                await self._quietly_stop()  # release what a half-done start opened
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)
                continue
            self._monitor.up_everywhere(self.name)
            self.started.set()
            return

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._quietly_stop()
            return
        if self.started.is_set():
            await self._worker.stop()

    async def _quietly_stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._worker.stop()


class PeriodicWorker:
    """Runs `tick` now and then every `interval` seconds until stopped.

    A failing tick is tried again next round: a periodic duty (signing tree heads, firing due
    timers) must outlive a database outage. A transient failure is reported to the monitor
    (one warning per outage); anything else is logged with its traceback. `stopping` lets a
    long tick end early.
    """

    def __init__(
        self,
        name: str,
        tick: Callable[[], Awaitable[object]],
        interval_seconds: float,
        *,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self.name = name
        self._tick = tick
        self._interval = interval_seconds
        self._monitor = monitor or DependencyMonitor()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

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
                await self._tick()
            except Exception as error:  # the next round retries
                if is_transient(error):
                    self._monitor.down(dependency_of(error), worker=self.name, error=error)
                else:
                    log.exception("periodic work failed; retrying", extra={"worker": self.name})
            else:
                self._monitor.up_everywhere(self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
