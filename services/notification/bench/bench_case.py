"""Notification's share of one case at a low, steady rate: CPU and statements per case.

What the platform's bench (`bench/e2e.py`) sends the service for each case: a referral's
`requested` event, then its `routed` event (each in a consumer transaction of its own, with
the event-id ledger, as at 50 cases/s the consumer's batches hold about one event), which
queues one signed webhook to the partner's endpoint; the real dispatcher claims it, sends it
to a local receiver and records the attempt and its `delivered` event. Cases are spaced
`--interval` seconds apart, so claims and recordings take one delivery each, as they do at
the bench's fixed rate.

Prints this process's CPU per case and its statements per case (every query the client
sent, BEGIN and COMMIT included: asyncpg's query logger and SQLAlchemy's cursor events),
by statement.
The outbox relay is not run here (it is mpa_common's). Needs the local stack.

    .venv/bin/python services/notification/bench/bench_case.py [--cases 300] [--interval 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))

from bench_delivery import (
    ROUTED,
    _story,
    context_for,
    private_schema,
    receiver,
)

from mpa_common.messaging.consumer import EventConsumer, _Lane
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_common.settings import local_database_url
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.tables import processed_events
from mpa_notification.adapters.webhooks import WebhookSender
from mpa_notification.app.commands import CreateEndpoint
from mpa_notification.app.endpoints import create_endpoint
from mpa_notification.app.scope import Scope
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.handlers import subscription

_SPACES = re.compile(r"\s+")


class Statements:
    """Every query the engine's connections send, by its first 110 characters."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.on = False

    def __call__(self, record: Any) -> None:
        self.count(record.query)

    def count(self, query: str) -> None:
        if self.on:
            self.counts[_SPACES.sub(" ", query).strip()[:110]] += 1

    def attach(self, engine: Any) -> None:
        # The driver's own statements (BEGIN and COMMIT too), and SQLAlchemy's (which the
        # driver runs as prepared statements, past its query logger).
        @event.listens_for(engine.sync_engine, "connect")
        def _connected(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(self)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            self.count(args[2])


async def run(cases: int, interval: float, profile_pause: float) -> None:
    base_url = local_database_url("notification")
    statements = Statements()
    async with receiver() as (port, _pid), private_schema(base_url) as ground:
        statements.attach(ground.engine)
        settings = ground.settings(dispatch_idle_seconds=5.0)
        context, policy = context_for(settings)
        partner = uuid.uuid4()
        await create_endpoint(
            CreateEndpoint(
                Scope(None),
                partner_id=partner,
                url=f"http://127.0.0.1:{port}/fast/0",
                event_types=(ROUTED,),
            ),
            ground.unit_of_work,
            context,
        )
        consumer = EventConsumer(
            subscription(context),
            unit_of_work=ground.unit_of_work,
            processed=processed_events,
            kafka_options={},
            client_id="bench",
        )
        lane = _Lane("bench", asyncio.Event())
        dispatcher = Dispatcher(
            context,
            ground.unit_of_work,
            WebhookSender(policy, timeout=15, max_connections=8),
            EmailSender(settings),
        )
        context.wake_dispatcher = dispatcher.wake
        await dispatcher.start()
        stories = [_story(partner) for _ in range(cases + 20)]
        offset = 0

        async def one_case(story: list[Any]) -> None:
            nonlocal offset
            for envelope in story:
                offset += 1
                delivery = Delivery(envelope, RecordOrigin("t", 0, offset, 0))
                await consumer._transaction([delivery], lane)

        async def settle(expected: int) -> None:
            while dispatcher.attempts_recorded < expected:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # the last recording's wake-up claims nothing

        for story in stories[:20]:  # warm-up: connections, prepared statements, caches
            await one_case(story)
            await asyncio.sleep(interval)
        await settle(20)
        if profile_pause:
            print(f"attach py-spy now (pid {__import__('os').getpid()})", flush=True)
            await asyncio.sleep(profile_pause)
        await ground.count("SELECT 1 AS measured_cases_start")  # a mark in the server's log
        statements.on = True
        cpu = time.process_time()
        for story in stories[20:]:
            await one_case(story)
            await asyncio.sleep(interval)
        await settle(20 + cases)
        used = time.process_time() - cpu
        statements.on = False
        await ground.count("SELECT 1 AS measured_cases_end")
        await dispatcher.stop()
        total = sum(statements.counts.values())
        print(
            f"{cases} cases, one every {interval * 1000:.0f} ms: notification CPU "
            f"{used / cases * 1000:.2f} ms per case; {total / cases:.2f} statements per case "
            f"({dispatcher.claims} claims, {dispatcher.recordings} recordings)"
        )
        for text, count in statements.counts.most_common():
            print(f"  {count / cases:6.2f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between cases")
    parser.add_argument("--profile-pause", type=float, default=0.0)
    arguments = parser.parse_args()
    asyncio.run(run(arguments.cases, arguments.interval, arguments.profile_pause))


if __name__ == "__main__":
    main()
