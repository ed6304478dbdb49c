"""Nothing lost (issue 11): the whole platform under a steady load while its dependencies fail.

Each scenario registers at least 300 cases at a steady rate over HTTP (a client retrying 503s
and connection errors with the same Idempotency-Key), with webhooks to a local receiver, while
a fault is injected; then waits until the platform is quiet and checks, precisely, that every
case was routed (or is unroutable with a reason), every routed referral's webhook arrived, every
event is in the audit log once and the log verifies, no dead letter appeared, no outbox row
was left behind and no SLA timer fired twice (see `mpa_cli.harness.checks`). The table of all
scenarios is printed at the end of the run.

The relay leader killed between publish and mark-sent at the exact point is also proven in
`tests/integration/test_messaging.py` (through the relay's test seam); here the same crash
window is replayed on the running platform.
"""

from __future__ import annotations

import pytest

from mpa_cli.harness.faults import (
    BrokerKilled,
    PostgresPaused,
    PostgresStopped,
    RelayCrashReplayed,
    ServiceKilled,
    held,
)
from mpa_cli.harness.netns import Partition
from mpa_cli.harness.report import ScenarioReport
from mpa_cli.harness.scenario import PlatformUnderTest, Scenario
from tests.faults.settings import CASES, RATE, REPORTS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

FAULT_AT = 8.0  # seconds into the load: the platform is busy when the fault lands
OUTAGE = 15.0


async def _run(put: PlatformUnderTest, scenario: Scenario) -> ScenarioReport:
    report = await put.run(scenario)
    REPORTS.append(report)
    return report


def _assert_nothing_lost(report: ScenarioReport) -> None:
    assert report.passed, "\n" + report.details()


async def test_postgres_stopped_for_15_seconds(platform_under_test: PlatformUnderTest) -> None:
    put = platform_under_test
    fault = PostgresStopped(put.stack)
    report = await _run(
        put,
        Scenario(
            "PostgreSQL stopped 15 s",
            faults=[(FAULT_AT, held(fault, OUTAGE))],
            cases=CASES,
            rate=RATE,
        ),
    )
    _assert_nothing_lost(report)


async def test_postgres_paused_for_15_seconds(platform_under_test: PlatformUnderTest) -> None:
    put = platform_under_test
    fault = PostgresPaused(put.stack)
    report = await _run(
        put,
        Scenario(
            "PostgreSQL paused 15 s",
            faults=[(FAULT_AT, held(fault, OUTAGE))],
            cases=CASES,
            rate=RATE,
        ),
    )
    _assert_nothing_lost(report)


async def test_broker_killed_and_restarted(platform_under_test: PlatformUnderTest) -> None:
    put = platform_under_test
    fault = BrokerKilled(put.stack)
    report = await _run(
        put,
        Scenario(
            "broker SIGKILL + restart",
            faults=[(FAULT_AT, held(fault, 5.0))],
            cases=CASES,
            rate=RATE,
        ),
    )
    _assert_nothing_lost(report)


async def test_each_service_killed_in_turn(platform_under_test: PlatformUnderTest) -> None:
    put = platform_under_test
    kills = [
        (4.0 + 8.0 * n, ServiceKilled(put.platform, service))
        for n, service in enumerate(("intake", "referral", "notification", "audit"))
    ]
    report = await _run(
        put,
        Scenario(
            "each service SIGKILLed in turn",
            faults=[(at, held(kill, 0.0)) for at, kill in kills],
            cases=CASES,
            rate=RATE,
        ),
    )
    _assert_nothing_lost(report)


async def test_relay_killed_between_publish_and_mark_sent(
    platform_under_test: PlatformUnderTest,
) -> None:
    put = platform_under_test
    crashes = [
        (12.0, RelayCrashReplayed(put.platform, "referral")),
        (24.0, RelayCrashReplayed(put.platform, "intake")),
    ]
    report = await _run(
        put,
        Scenario(
            "relay killed before mark-sent",
            faults=[(at, held(crash, 0.0)) for at, crash in crashes],
            cases=CASES,
            rate=RATE,
        ),
    )
    _assert_nothing_lost(report)
    replayed = sum(int(str(w.detail["republished_rows"])) for w in report.windows)
    assert replayed > 0, "the crash window must have left rows to publish twice"


async def test_referral_cut_off_from_kafka(platform_under_test: PlatformUnderTest) -> None:
    put = platform_under_test
    async with put.in_own_namespace("referral") as namespace:
        fault = Partition(namespace, put.stack.kafka.port, "Kafka")
        report = await _run(
            put,
            Scenario(
                "referral cut off from Kafka 15 s",
                faults=[(FAULT_AT, held(fault, OUTAGE))],
                cases=CASES,
                rate=RATE,
            ),
        )
    _assert_nothing_lost(report)
