"""The notification service rides out a database outage (issue 11): its dispatcher, its
claims, the recording of attempts under way and the consumer's fan-out wait and retry
quietly — the dependency monitor says so once, and /readyz — and when the database is back
every message is delivered and recorded, duplicates carrying the same webhook-id.

The service runs in this process on a PostgreSQL of the test's own (stopped, or paused with
SIGSTOP: a hung server), so the shared stack is never touched; Kafka is the real broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import httpx
import pytest

from tests.integration.notification_support import (
    Playground,
    WebhookReceiver,
    eventually,
    open_playground,
    running_service,
    smtp_server,
)
from tests.integration.private_postgres import PrivatePostgres, private_postgres
from tests.integration.test_notification_webhooks import REQUESTED, ROUTED, Story

pytestmark = pytest.mark.integration

# Longer than the leases taken before the outage (3 s timeout + 1 s margin): they end
# during it, and are recovered after it.
OUTAGE_SECONDS = 6


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
async def playground(
    bootstrap_servers: str, smtp: tuple[int, list[EmailMessage]], own_postgres: PrivatePostgres
) -> AsyncIterator[Playground]:
    async for ground in open_playground(
        bootstrap_servers, smtp[0], database_url=own_postgres.url("notification")
    ):
        yield ground


@pytest.mark.parametrize("fault", ["stopped", "paused"])
async def test_a_database_outage_delays_webhooks_but_loses_none(
    playground: Playground,
    own_postgres: PrivatePostgres,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    settings = playground.settings(
        database_command_timeout_seconds=2,  # a hung server: statements give up, as transient
        dispatch_lease_margin_seconds=1,
        # An idle dispatcher next looks at the database within this, and gives up on it after
        # the timeout above: both well inside the outage, during which the monitor must show
        # it waiting (with the 5 s default, idle wait + timeout could outlast the outage).
        dispatch_idle_seconds=1,
    )
    stories = [Story() for _ in range(5)]
    partner = stories[0].partner_id
    for story in stories:
        story.partner_id = partner
    # Each attempt takes a while, so some are under way when the database goes.
    with (
        caplog.at_level(logging.INFO),
        WebhookReceiver(lambda _n, _r: (204, {}, 0.3)) as receiver,
    ):
        async with running_service(settings) as (app, api):
            created = await api.post(
                "/v1/endpoints",
                json={"url": receiver.url(), "event_types": [ROUTED], "max_in_flight": 8},
                headers=stories[0].partner_headers(),
            )
            assert created.status_code == 201, created.text
            endpoint_id = created.json()["id"]
            for _ in range(12):
                queued = await api.post(
                    f"/v1/endpoints/{endpoint_id}/test", headers=stories[0].partner_headers()
                )
                assert queued.status_code == 202, queued.text

            async def some_sent() -> bool:
                return len(receiver.received) >= 2

            await eventually(some_sent, what="the first attempts under way")
            sent_before = len(receiver.received)
            paused: list[int] = []
            if fault == "stopped":
                own_postgres.stop()
            else:
                paused = own_postgres.pause()
            try:
                # Events arrive meanwhile: the consumer waits to fan them out.
                await playground.publish(
                    *(e for s in stories for e in (s.event(REQUESTED), s.event(ROUTED)))
                )
                await asyncio.sleep(OUTAGE_SECONDS)
                monitor = app.state.context.monitor
                assert monitor.is_down("database")
                assert "dispatcher" in str(monitor.status())
                readiness = await _readyz(api)
                assert readiness.status_code == 503
                sent_during = len(receiver.received)
            finally:
                if fault == "stopped":
                    own_postgres.start()
                else:
                    own_postgres.resume(paused)

            async def all_delivered() -> bool:
                rows = await playground.query(
                    "SELECT count(*) AS n FROM deliveries WHERE state = 'delivered'"
                )
                return bool(rows[0].n == 12 + len(stories))

            await eventually(all_delivered, timeout=90, what="every message delivered")

            async def ready() -> bool:
                return (await _readyz(api)).status_code == 200

            await eventually(ready, timeout=30, what="ready again")
            assert not app.state.context.monitor.is_down("database")
    # Every message reached the receiver; a message sent twice (its result not recorded
    # before its lease ended) carried the same webhook-id both times.
    ids = [r.headers["webhook-id"] for r in receiver.received]
    rows = await playground.query("SELECT id FROM deliveries")
    assert {f"msg_{row.id.hex}" for row in rows} == set(ids)
    assert len(set(ids)) == 12 + len(stories)
    # Nothing was sent while the database was away but what was under way when it went.
    assert sent_during <= sent_before + 8
    # One attempt row per delivered message: results recorded once.
    attempts = await playground.query(
        "SELECT delivery_id, count(*) AS n FROM delivery_attempts GROUP BY delivery_id"
    )
    assert {row.n for row in attempts} == {1}
    # Quiet: the monitor said it once (and once when it was back); no traceback, no error.
    ours = [r for r in caplog.records if r.name.startswith(("mpa_notification", "mpa.health"))]
    assert not [r for r in ours if r.exc_info]
    assert not [r for r in ours if r.levelno >= logging.ERROR]
    went = [r for r in ours if r.getMessage().startswith("dependency unreachable")]
    assert went
    assert len(went) <= 3  # per dependency noticed (database; a dropped pool may say kafka)


async def _readyz(api: httpx.AsyncClient) -> httpx.Response:
    return await api.get("/readyz", timeout=10)
