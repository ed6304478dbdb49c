"""The fault-injection suite's platform under test: a private stack (its own PostgreSQL
cluster and Kafka broker on free ports, so stopping them disturbs no other test) and one
deployment of the four services as separate processes, shared by the scenarios in order.

Every scenario's table row and checks are printed at the end of the run (also by `make test`).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from mpa_cli.harness.report import table
from mpa_cli.harness.scenario import PlatformUnderTest
from mpa_cli.harness.stack import PrivateStack
from mpa_cli.stack.layout import Layout
from tests.faults.settings import REPORTS

LOGS: list[object] = []


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    stack = PrivateStack.in_temporary_folder()
    try:
        stack.start()
        yield stack
    finally:
        stack.destroy()


@pytest.fixture(scope="session")
async def platform_under_test(private_stack: PrivateStack) -> AsyncIterator[PlatformUnderTest]:
    # Kept after the run for a look (pytest's shared temporary folders are pruned by any
    # other run on the machine); the previous run's logs are replaced.
    logs = Layout(private_stack.root).local / "harness" / "fault-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    LOGS.append(logs)
    put = await PlatformUnderTest.start(private_stack, logs)
    try:
        yield put
    finally:
        await put.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTS:
        return
    terminalreporter.section("fault injection: nothing lost (issue 11)")
    terminalreporter.write_line(table(REPORTS))
    terminalreporter.write_line("")
    for report in REPORTS:
        terminalreporter.write_line(report.details())
    terminalreporter.write_line(f"(service logs: {LOGS[0] if LOGS else '?'})")
