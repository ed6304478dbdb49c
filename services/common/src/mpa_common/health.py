"""What a service's workers know about its dependencies, for /readyz and for the log.

Workers (consumers, the relay, timers) report a dependency as down when a transient failure
stops them and as up when work succeeds again. The monitor turns a storm of retries into
one WARNING when a dependency goes away, a summary every `summary_interval` seconds while it
stays away, and one INFO when the last worker waiting on it is through — instead of a
traceback per retry. /readyz shows which workers wait on what.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from mpa_common.failures import describe

log = logging.getLogger("mpa.health")

DATABASE = "database"
KAFKA = "kafka"


@dataclass
class _Outage:
    since: float
    error: str
    workers: set[str] = field(default_factory=set)
    retries: int = 0
    last_summary: float = 0.0


class DependencyMonitor:
    def __init__(self, *, summary_interval: float = 30.0) -> None:
        self._summary_interval = summary_interval
        self._outages: dict[str, _Outage] = {}

    def down(self, dependency: str, *, worker: str, error: BaseException) -> None:
        now = time.monotonic()
        outage = self._outages.get(dependency)
        if outage is None:
            outage = self._outages[dependency] = _Outage(now, describe(error, 200))
            outage.last_summary = now
            log.warning(
                "dependency unreachable; work waits and retries",
                extra={"dependency": dependency, "worker": worker, "error": outage.error},
            )
        outage.workers.add(worker)
        outage.retries += 1
        outage.error = describe(error, 200)
        if now - outage.last_summary >= self._summary_interval:
            outage.last_summary = now
            log.warning(
                "dependency still unreachable",
                extra={
                    "dependency": dependency,
                    "down_seconds": round(now - outage.since, 1),
                    "waiting_workers": sorted(outage.workers),
                    "retries": outage.retries,
                    "error": outage.error,
                },
            )

    def up(self, dependency: str, *, worker: str) -> None:
        outage = self._outages.get(dependency)
        if outage is None or worker not in outage.workers:
            return
        outage.workers.discard(worker)
        if outage.workers:
            return
        del self._outages[dependency]
        log.info(
            "dependency back; work resumed",
            extra={
                "dependency": dependency,
                "down_seconds": round(time.monotonic() - outage.since, 1),
                "retries": outage.retries,
            },
        )

    def up_everywhere(self, worker: str) -> None:
        """The worker made progress: nothing it reported down stops it any more."""
        for dependency in [d for d, o in self._outages.items() if worker in o.workers]:
            self.up(dependency, worker=worker)

    def is_down(self, dependency: str) -> bool:
        return dependency in self._outages

    def status(self) -> dict[str, str]:
        """`{dependency: "down for 12.3 s: ...; waiting: consumer:..., relay"}` for /readyz."""
        now = time.monotonic()
        return {
            dependency: (
                f"down for {now - outage.since:.1f} s ({outage.error}); "
                f"waiting: {', '.join(sorted(outage.workers))}"
            )
            for dependency, outage in self._outages.items()
        }
