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
