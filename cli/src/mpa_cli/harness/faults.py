"""Fault injectors. Each acts only on a process the harness started, found by the pid it
recorded (or by the data folder of its own cluster), never by a process name.

A fault has `inject()` and `heal()`; `hold(fault, seconds)` does both and returns the
`FaultWindow` (wall-clock start and end) that recovery times are measured from.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mpa_cli.harness.platform import Platform
from mpa_cli.harness.stack import PrivateStack


@dataclass
class FaultWindow:
    label: str
    started_at: float  # wall clock: the fault began
    ended_at: float = 0.0  # wall clock: the dependency or process was back
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at


class Fault(Protocol):
    label: str

    async def inject(self) -> dict[str, object]: ...

    async def heal(self) -> dict[str, object]: ...


async def hold(fault: Fault, seconds: float) -> FaultWindow:
    """Injects the fault, keeps it `seconds`, heals it; the window ends once healed."""
    window = FaultWindow(fault.label, time.time())
    window.detail.update(await fault.inject())
    await asyncio.sleep(seconds)
    window.detail.update(await fault.heal())
    window.ended_at = time.time()
    return window


def held(fault: Fault, seconds: float) -> Callable[[], Awaitable[FaultWindow]]:
    """`hold(fault, seconds)` as an action to run later (a scenario's timeline)."""

    async def action() -> FaultWindow:
        return await hold(fault, seconds)

    return action


class PostgresStopped:
    """`pg_ctl stop -m fast` (what a restart for an upgrade or a failover does), then start."""

    def __init__(self, stack: PrivateStack) -> None:
        self.stack = stack
        self.label = "PostgreSQL stopped"

    async def inject(self) -> dict[str, object]:
        pid = self.stack.postmaster_pid()
        await asyncio.to_thread(self.stack.stop_postgres)
        return {"postmaster": pid}

    async def heal(self) -> dict[str, object]:
        await asyncio.to_thread(self.stack.start_postgres)
        return {}


class PostgresPaused:
    """A hung database: SIGSTOP on the postmaster and every one of its child processes
    (connections are accepted by the kernel, then nothing answers), then SIGCONT."""

    def __init__(self, stack: PrivateStack) -> None:
        self.stack = stack
        self.label = "PostgreSQL paused"
        self._stopped: list[int] = []

    async def inject(self) -> dict[str, object]:
        postmaster = self.stack.postmaster_pid()
        os.kill(postmaster, signal.SIGSTOP)  # first: a stopped postmaster forks no new child
        self._stopped = [postmaster]
        for child in children_of(postmaster):
            try:
                os.kill(child, signal.SIGSTOP)
                self._stopped.append(child)
            except ProcessLookupError:
                pass  # exited meanwhile
        return {"postmaster": postmaster, "paused_processes": len(self._stopped)}

    async def heal(self) -> dict[str, object]:
        for pid in reversed(self._stopped):  # children first, the postmaster last
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._stopped = []
        return {}


def children_of(parent: int) -> list[int]:
    """Pids whose parent is `parent`, from /proc/<pid>/stat."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # Field 4 (ppid) follows the command name, which may itself hold spaces or ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


class BrokerKilled:
    """SIGKILL on the broker's JVM (by the pid the stack recorded), then start it again."""

    def __init__(self, stack: PrivateStack) -> None:
        self.stack = stack
        self.label = "broker SIGKILLed"

    async def inject(self) -> dict[str, object]:
        return {"broker_pid": self.stack.kill_kafka()}

    async def heal(self) -> dict[str, object]:
        started = time.monotonic()
        await asyncio.to_thread(self.stack.start_kafka)
        return {"broker_start_seconds": round(time.monotonic() - started, 1)}


class ServiceKilled:
    """SIGKILL on one service's process, then start it again (waiting until it is ready)."""

    def __init__(self, platform: Platform, service: str) -> None:
        self.platform = platform
        self.service = service
        self.label = f"{service} SIGKILLed"

    async def inject(self) -> dict[str, object]:
        return {"pid": self.platform.services[self.service].kill()}

    async def heal(self) -> dict[str, object]:
        seconds = await self.platform.restart(self.service)
        return {"ready_after_seconds": round(seconds, 1)}


class RelayCrashReplayed:
    """The relay leader dies between Kafka's acknowledgement and mark-sent: the service is
    SIGKILLed, and its last `rows` published outbox rows are marked unpublished again — the
    exact state such a crash leaves (the records are on the topic, the rows look unsent).
    On restart the new leader publishes them a second time; consumers must skip them.
    (`tests/integration/test_messaging.py` kills a relay at that very point through its
    test seam; this is the same window on the running platform.)"""

    def __init__(self, platform: Platform, service: str, rows: int = 50) -> None:
        self.platform = platform
        self.service = service
        self.rows = rows
        self.label = f"{service} relay killed before mark-sent"

    async def inject(self) -> dict[str, object]:
        pid = self.platform.services[self.service].kill()
        marked = await self.platform.query(
            self.service,
            "UPDATE outbox SET published_at = NULL WHERE position IN ("
            " SELECT position FROM outbox WHERE published_at IS NOT NULL"
            " ORDER BY position DESC LIMIT $1) RETURNING position",
            self.rows,
        )
        return {"pid": pid, "republished_rows": len(marked)}

    async def heal(self) -> dict[str, object]:
        seconds = await self.platform.restart(self.service)
        return {"ready_after_seconds": round(seconds, 1)}
