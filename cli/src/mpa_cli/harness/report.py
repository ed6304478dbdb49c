"""A scenario's outcome as one row of a table, and the checks behind it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mpa_cli.harness.checks import Check, Drain
from mpa_cli.harness.faults import FaultWindow


@dataclass
class ScenarioReport:
    name: str
    cases_posted: int
    cases_registered: int
    events: int
    dead_letters: int
    checks: list[Check]
    windows: list[FaultWindow]
    recovery_seconds: float | None
    drain: Drain
    load_seconds: float
    error_log_lines: dict[str, int] = field(default_factory=dict)
    stack_dumps: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.checks)

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.checks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and self.recovery_seconds is not None

    @property
    def failure_count(self) -> int:
        return len(self.failed_checks) + (self.recovery_seconds is None)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def row(self) -> list[str]:
        recovery = (
            "never"
            if self.recovery_seconds is None
            else "n/a"
            if math.isnan(self.recovery_seconds)
            else f"{self.recovery_seconds:.1f}"
        )
        return [
            self.name,
            f"{self.cases_registered}/{self.cases_posted}",
            str(self.events),
            str(self.dead_letters),
            str(self.lost),
            str(self.duplicated),
            recovery,
            "pass" if self.passed else f"FAIL ({self.failure_count})",
        ]

    def details(self) -> str:
        lines = [f"{self.name}:"]
        for window in self.windows:
            detail = ", ".join(f"{k}={v}" for k, v in window.detail.items())
            lines.append(f"  fault: {window.label} for {window.seconds:.1f} s ({detail})")
        lines.append(
            f"  load {self.load_seconds:.1f} s; drained "
            f"{'quietly' if self.drain.quiet else 'NOT quiet'} after {self.drain.seconds:.1f} s"
            + ("" if self.drain.quiet else f" ({self.drain.last})")
        )
        if self.timings:
            lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.timings.items()))
        if self.error_log_lines:
            lines.append(
                "  ERROR log lines: "
                + ", ".join(f"{s} {n}" for s, n in self.error_log_lines.items())
            )
        lines.extend(f"  {check.line()}" for check in self.checks)
        if self.recovery_seconds is None:
            lines.append("  FAIL recovery: no case registered after a fault was ever completed")
        if self.stack_dumps:
            lines.append(f"  stacks of the services when the wait ended: {self.stack_dumps}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "scenario": self.name,
            "cases_posted": self.cases_posted,
            "cases_registered": self.cases_registered,
            "events": self.events,
            "dead_letters": self.dead_letters,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "recovery_seconds": (
                None
                if self.recovery_seconds is None or math.isnan(self.recovery_seconds)
                else round(self.recovery_seconds, 1)
            ),
            "passed": self.passed,
            "checks": [
                {"name": c.name, "passed": c.passed, "summary": c.summary} for c in self.checks
            ],
        }


HEADER = ["scenario", "cases", "events", "dead letters", "lost", "dup. effects", "recover s", ""]


def table(reports: Sequence[ScenarioReport], *, markdown: bool = False) -> str:
    rows = [HEADER, *(r.row() for r in reports)]
    if markdown:
        out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(out)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
