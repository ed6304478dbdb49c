"""A worker that needs the broker to start is retried in the background, not fatal."""

from __future__ import annotations

import asyncio

from mpa_common.workers import StartedInBackground


class FlakyWorker:
    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.starts = 0
        self.stops = 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise ConnectionError("broker down")

    async def stop(self) -> None:
        self.stops += 1


async def test_start_is_retried_until_it_succeeds() -> None:
    worker = FlakyWorker(failures=2)
    wrapped = StartedInBackground(worker, first_retry=0.01)
    await wrapped.start()
    await asyncio.wait_for(wrapped.started.wait(), 2)
    assert worker.starts == 3
    assert worker.stops == 2  # each failed start is cleaned up
    await wrapped.stop()
    assert worker.stops == 3


async def test_stop_while_still_retrying_gives_up_cleanly() -> None:
    worker = FlakyWorker(failures=1000)
    wrapped = StartedInBackground(worker, first_retry=0.01, max_retry=0.01)
    await wrapped.start()
    await asyncio.sleep(0.05)
    await wrapped.stop()
    assert not wrapped.started.is_set()
    starts = worker.starts
    await asyncio.sleep(0.05)
    assert worker.starts == starts  # no retries after stop


async def test_a_periodic_worker_ticks_survives_a_failing_tick_and_stops() -> None:
    from mpa_common.workers import PeriodicWorker

    ticks: list[int] = []
    five = asyncio.Event()

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 5:
            five.set()
        if len(ticks) == 2:
            raise RuntimeError("database hiccup")

    worker = PeriodicWorker("test-periodic", tick, interval_seconds=0.01)
    await worker.start()
    await asyncio.wait_for(five.wait(), 5)  # kept ticking after the failing second tick
    await worker.stop()
    assert worker.stopping
    seen = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == seen  # nothing runs after stop
