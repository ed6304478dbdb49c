"""A running platform under test, and one scenario on it: load, faults on a timeline, the
wait until the platform is quiet, the checks, the report.

Scenarios run one after another on the same deployment; each is scoped by what was on the
topics and in the log before it started (`checks.Scope`), so their checks never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mpa_cli.harness import checks, profiling
from mpa_cli.harness.directory import RegisteredPartner, register_partner
from mpa_cli.harness.faults import FaultWindow
from mpa_cli.harness.load import LoadGenerator, LoadResult
from mpa_cli.harness.netns import NetworkNamespace
from mpa_cli.harness.platform import Platform, PlatformSettings
from mpa_cli.harness.receiver import WebhookReceiver
from mpa_cli.harness.report import ScenarioReport
from mpa_cli.harness.stack import PrivateStack

FaultAction = Callable[[], Awaitable[FaultWindow]]
Progress = Callable[[str], None]


@dataclass
class Scenario:
    name: str
    # (seconds after the load starts, what to do): each runs in a task of its own.
    faults: Sequence[tuple[float, FaultAction]] = ()
    cases: int = 300
    rate: float = 8.0
    expected_dead_letters: int = 0
    drain_deadline_seconds: float = 240.0


@dataclass
class PlatformUnderTest:
    stack: PrivateStack
    platform: Platform
    receiver: WebhookReceiver
    partner: RegisteredPartner
    reports: list[ScenarioReport] = field(default_factory=list)
    _next_case: int = 0

    @classmethod
    async def start(
        cls,
        stack: PrivateStack,
        logs: Path,
        settings: PlatformSettings | None = None,
        *,
        endpoint_max_in_flight: int | None = None,
    ) -> PlatformUnderTest:
        platform = Platform(stack, logs, settings=settings)
        await platform.prepare()
        receiver = WebhookReceiver()
        await receiver.start()
        try:
            await platform.start()
            partner = await register_partner(
                platform.urls, receiver, max_in_flight=endpoint_max_in_flight
            )
        except BaseException:
            platform.stop()
            await receiver.stop()
            raise
        return cls(stack, platform, receiver, partner)

    async def close(self) -> None:
        self.platform.stop()
        await self.receiver.stop()

    async def run(self, scenario: Scenario, progress: Progress | None = None) -> ScenarioReport:
        platform = self.platform
        say = progress or (lambda _: None)
        began = time.monotonic()
        scope = await checks.Scope.capture(platform)
        scoped = time.monotonic()
        errors_before = {s: p.log_lines("ERROR") for s, p in platform.services.items()}
        generator = LoadGenerator(
            platform.urls["intake"],
            cases=scenario.cases,
            rate=scenario.rate,
            first_index=self._next_case,
        )
        self._next_case += scenario.cases

        async def at(offset: float, action: FaultAction) -> FaultWindow:
            await asyncio.sleep(offset)
            say(f"{scenario.name}: injecting a fault at +{offset:.0f} s")
            window = await action()
            say(f"{scenario.name}: {window.label} healed after {window.seconds:.1f} s")
            return window

        say(f"{scenario.name}: {scenario.cases} cases at {scenario.rate:g}/s")
        fault_tasks = [asyncio.create_task(at(o, a)) for o, a in scenario.faults]
        try:
            load = await generator.run()
            windows = list(await asyncio.gather(*fault_tasks))
        finally:
            for task in fault_tasks:
                task.cancel()
        say(f"{scenario.name}: load done in {load.seconds:.1f} s; waiting until quiet")
        drain = await checks.wait_until_quiet(
            platform,
            load,
            self.receiver,
            not_before=_last_sla_due(load, platform.settings),
            deadline_seconds=scenario.drain_deadline_seconds,
        )
        dumps = "" if drain.quiet else await self._dump_stacks(scenario.name)
        collecting = time.monotonic()
        evidence = await checks.collect(platform, scope, load, self.receiver)
        results = checks.evaluate(evidence, expected_dead_letters=scenario.expected_dead_letters)
        report = ScenarioReport(
            name=scenario.name,
            cases_posted=len(load.outcomes),
            cases_registered=len(load.registered),
            events=len({r.event_id for r in evidence.records if r.event_id}),
            dead_letters=len(evidence.dead_letters),
            checks=results,
            windows=windows,
            recovery_seconds=checks.recovery_seconds(evidence, [w.ended_at for w in windows]),
            drain=drain,
            load_seconds=load.seconds,
            error_log_lines={
                s: p.log_lines("ERROR") - errors_before[s] for s, p in platform.services.items()
            },
            stack_dumps=dumps,
            timings={
                "scope": scoped - began,
                "load": load.seconds,
                "drain": drain.seconds,
                "checks": time.monotonic() - collecting,
                "scenario": time.monotonic() - began,
            },
        )
        self.reports.append(report)
        return report

    async def _dump_stacks(self, scenario: str) -> str:
        """py-spy dumps of every service that is still running, next to their logs."""
        slug = "".join(c if c.isalnum() else "-" for c in scenario.lower()).strip("-")
        folder = self.platform.logs / f"stacks-{slug}"
        folder.mkdir(parents=True, exist_ok=True)
        for service, process in self.platform.services.items():
            if process.pid is not None:
                try:
                    text = await profiling.dump(process.pid)
                except RuntimeError as error:  # py-spy missing: say so where the dump would be
                    text = str(error)
                (folder / f"{service}.txt").write_text(text)
        return str(folder)

    @contextlib.asynccontextmanager
    async def in_own_namespace(self, service: str) -> AsyncIterator[NetworkNamespace]:
        """Runs `service` in a network namespace of its own for the duration: it reaches
        PostgreSQL and Kafka (and is reached on its HTTP port) only through the namespace's
        forwarder, so a `netns.Partition` can cut it off from one of them."""
        process = self.platform.services[service]
        namespace = NetworkNamespace()
        process.terminate()
        namespace.create()
        try:
            await namespace.join(
                inward=[self.stack.postgres.port, self.stack.kafka.port], outward=[process.port]
            )
            process.launcher = namespace.launcher
            await self.platform.restart(service)
            yield namespace
        finally:
            process.terminate()
            process.launcher = ()
            namespace.delete()
            await self.platform.restart(service)


def _last_sla_due(load: LoadResult, settings: PlatformSettings) -> float:
    """When the last short (low-urgency) acceptance SLA of the run falls due, plus margin."""
    last = max((o.responded_at or 0.0 for o in load.registered), default=time.time())
    return last + settings.sla_low_seconds + 2 * settings.timer_poll_seconds + 1.0
