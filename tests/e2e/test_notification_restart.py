"""The notification service as a real process, killed with SIGKILL and started again:
- in the middle of a retry schedule, it resumes the schedule from the database and the
  receiver gets the rest of the attempts with the same webhook-id;
- in the middle of an attempt (the receiver, or the SMTP server, still holding the request),
  the attempt is made again once its lease ends — a duplicate with the same webhook-id (the
  same e-mail Message-ID), never a lost message (issue 11)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mpa_common.auth import Role
from tests.integration.notification_support import (
    Playground,
    WebhookReceiver,
    bearer,
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


def start_service(
    playground: Playground, port: int, log: Path, **settings: str
) -> subprocess.Popen[bytes]:
    # A long second delay: the kill lands while attempt 2 is scheduled, not yet made.
    env = {
        **os.environ,
        **playground.environment(
            **{"NOTIFICATION_RETRY_SCHEDULE_SECONDS": "[0, 4, 0.3, 0.3]", **settings}
        ),
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


# An attempt holds its delivery for its timeout (3 s here) plus this margin; then any
# replica makes it again.
SHORT_LEASE = {"NOTIFICATION_DISPATCH_LEASE_MARGIN_SECONDS": "1"}


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_a_webhook_cut_off_by_a_crash_is_sent_again_after_its_lease(
    playground: Playground, tmp_path: Path
) -> None:
    story = Story()
    port = free_port()
    log = tmp_path / "notification.log"
    process = start_service(playground, port, log, **SHORT_LEASE)
    try:
        # The first request is held for longer than the attempt may take: the service is
        # killed while it waits for the answer.
        with WebhookReceiver(lambda n, _r: (204, {}, 2.5 if n == 0 else 0.0)) as receiver:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"http://127.0.0.1:{port}/v1/endpoints",
                    json={"url": receiver.url(), "event_types": [ROUTED]},
                    headers=story.partner_headers(),
                )
            assert response.status_code == 201, response.text
            await playground.publish(story.event(REQUESTED), story.event(ROUTED))

            async def in_flight() -> bool:
                return len(receiver.received) == 1

            await eventually(in_flight, what="the first attempt under way")
            killed_at = time.monotonic()
            kill(process)
            process = start_service(playground, port, log, **SHORT_LEASE)

            async def again() -> bool:
                return len(receiver.received) == 2

            await eventually(again, timeout=30, what="the attempt made again")
            # Not before the lease of the cut-off attempt ended (3 s timeout + 1 s margin,
            # counted from the claim, a little before the kill).
            assert receiver.received[1].at - killed_at >= 2.5

            async def delivered() -> bool:
                rows = await playground.query(
                    "SELECT state FROM deliveries WHERE referral_id = :id", id=story.referral_id
                )
                return [r.state for r in rows] == ["delivered"]

            await eventually(delivered, what="the delivery recorded")
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
        rows = await playground.query(
            "SELECT a.status_code FROM delivery_attempts a JOIN deliveries d "
            "ON d.id = a.delivery_id WHERE d.referral_id = :id",
            id=story.referral_id,
        )
        assert [r.status_code for r in rows] == [204]  # the cut-off attempt left no record
    finally:
        stop(process)


async def test_an_email_cut_off_by_a_crash_is_sent_again_after_its_lease(
    playground: Playground, smtp: tuple[int, list[EmailMessage]], tmp_path: Path
) -> None:
    story = Story()
    port = free_port()
    log = tmp_path / "notification.log"
    address = f"desk-{uuid.uuid4().hex[:8]}@ngo.example.org"
    held = HeldSmtp()
    with held.serving() as smtp_port:
        settings = {**SHORT_LEASE, "NOTIFICATION_SMTP_PORT": str(smtp_port)}
        process = start_service(playground, port, log, **settings)
        try:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"http://127.0.0.1:{port}/v1/contacts",
                    json={
                        "kind": "partner",
                        "partner_id": str(story.partner_id),
                        "email": address,
                        "language": "en",
                    },
                    headers=bearer(Role.ADMIN),
                )
            assert response.status_code == 201, response.text
            await playground.publish(story.event(REQUESTED), story.event(ROUTED))

            async def in_flight() -> bool:
                return held.sessions >= 1

            await eventually(in_flight, what="the first e-mail under way")
            kill(process)
            process = start_service(playground, port, log, **settings)

            async def arrived() -> bool:
                return len(held.received) >= 1

            await eventually(arrived, timeout=30, what="the e-mail sent again")

            async def delivered() -> bool:
                rows = await playground.query(
                    "SELECT state FROM deliveries WHERE referral_id = :id AND email = :email",
                    id=story.referral_id,
                    email=address,
                )
                return [r.state for r in rows] == ["delivered"]

            await eventually(delivered, what="the e-mail recorded")
        finally:
            stop(process)
    assert held.sessions >= 2  # the first never finished; the second did
    (mail,) = held.received
    assert mail["To"] == address
    rows = await playground.query(
        "SELECT id FROM deliveries WHERE referral_id = :id AND email = :email",
        id=story.referral_id,
        email=address,
    )
    assert mail["X-MPA-Notification-Id"] == f"msg_{rows[0].id.hex}"  # the delivery's id


class HeldSmtp:
    """An SMTP server that holds the first message's DATA for longer than the service may
    wait, and keeps the ones after it."""

    def __init__(self) -> None:
        self.sessions = 0
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        self.sessions += 1
        if self.sessions == 1:
            await asyncio.sleep(8)
            return "451 too late"
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 OK"

    @contextlib.contextmanager
    def serving(self) -> Iterator[int]:
        port = free_port()
        controller = Controller(self, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            yield port
        finally:
            controller.stop()
