"""The notification service as a real process: killed (SIGKILL) in the middle of a retry
schedule, then started again, it resumes the schedule from the database and the receiver
gets the rest of the attempts with the same webhook-id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.integration.notification_support import (
    Playground,
    WebhookReceiver,
    eventually,
    free_port,
    open_playground,
    sequence,
    smtp_server,
)
from tests.integration.test_notification_webhooks import REQUESTED, ROUTED, Story

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def playground(
    bootstrap_servers: str, smtp: tuple[int, list[EmailMessage]]
) -> AsyncIterator[Playground]:
    async for ground in open_playground(bootstrap_servers, smtp[0]):
        yield ground


def start_service(playground: Playground, port: int, log: Path) -> subprocess.Popen[bytes]:
    # A long second delay: the kill lands while attempt 2 is scheduled, not yet made.
    env = {
        **os.environ,
        **playground.environment(NOTIFICATION_RETRY_SCHEDULE_SECONDS="[0, 4, 0.3, 0.3]"),
        "NOTIFICATION_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mpa_notification.main"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"notification exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"notification did not start:\n{log.read_text()}")


async def test_a_restart_mid_schedule_resumes_the_retries(
    playground: Playground, tmp_path: Path
) -> None:
    story = Story()
    port = free_port()
    log = tmp_path / "notification.log"
    process = start_service(playground, port, log)
    try:
        with WebhookReceiver(sequence((500, {}))) as receiver:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"http://127.0.0.1:{port}/v1/endpoints",
                    json={"url": receiver.url(), "event_types": [ROUTED]},
                    headers=story.partner_headers(),
                )
            assert response.status_code == 201, response.text
            await playground.publish(story.event(REQUESTED), story.event(ROUTED))

            async def first_failure_recorded() -> bool:
                rows = await playground.query(
                    "SELECT attempts FROM deliveries WHERE referral_id = :id",
                    id=story.referral_id,
                )
                return bool(rows) and rows[0].attempts == 1

            await eventually(first_failure_recorded, what="the first failed attempt")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            assert len(receiver.received) == 1

            process = start_service(playground, port, log)

            async def second() -> bool:
                return len(receiver.received) == 2

            await eventually(second, timeout=30, what="the retry after the restart")
        assert (
            receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
        )
        rows = await playground.query(
            "SELECT a.status_code FROM delivery_attempts a JOIN deliveries d "
            "ON d.id = a.delivery_id WHERE d.referral_id = :id ORDER BY a.attempt",
            id=story.referral_id,
        )
        assert [r.status_code for r in rows] == [500, 204]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
