"""CPU time each part of the platform spends, read from /proc (Linux): what a case costs.

Throughput on a shared machine moves with whatever else runs; CPU seconds per case do not
(much). Summed over the services, PostgreSQL, the broker and the load generator, they give
the machine's ceiling at today's cost: cores x 1 s / (CPU s per case). A goal above that
ceiling cannot be reached by tuning waits or batch sizes, only by spending less per case.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mpa_cli.harness.faults import children_of

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # Fields after the command name (which may hold spaces or ')'): state is [0].
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds of `pid` (all its threads); with `reaped_children`, also
    those of its children that have exited and been waited for (cutime, cstime)."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def postgres_cpu_seconds(postmaster: int) -> float:
    """The cluster's CPU: the postmaster, its live backends and workers, and the exited ones."""
    total = process_cpu_seconds(postmaster, reaped_children=True)
    return total + sum(process_cpu_seconds(child) for child in children_of(postmaster))


@dataclass(frozen=True, slots=True)
class CpuSample:
    seconds: dict[str, float]


class CpuMeter:
    """Reads the CPU seconds of named parts; `since(sample)` is what each spent after it."""

    def __init__(self, parts: Mapping[str, Callable[[], float]]) -> None:
        self._parts = dict(parts)

    def sample(self) -> CpuSample:
        return CpuSample({name: read() for name, read in self._parts.items()})

    def since(self, before: CpuSample) -> dict[str, float]:
        now = self.sample()
        return {
            name: max(0.0, now.seconds[name] - before.seconds.get(name, 0.0))
            for name in now.seconds
        }


def own_cpu_seconds() -> float:
    """This process's CPU (the load generator, the receiver and the watchers)."""
    times = os.times()
    return times.user + times.system
