"""Webhook deliveries per second to a local receiver, and how the rate holds when one of ten
endpoints answers slowly.

Runs the real dispatcher (claims with FOR UPDATE SKIP LOCKED, signs, POSTs, records each
attempt and its event in one transaction) against the local PostgreSQL, in a private schema
of the notification database that is dropped afterwards, and a small asyncio HTTP receiver
on a free port. Needs the local stack (`make stack`).

    .venv/bin/python services/notification/bench/bench_delivery.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.db import create_engine, create_session_factory
from mpa_common.messaging.tables import NOTIFY_TRIGGER_SQL
from mpa_common.settings import local_database_url
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.tables import metadata
from mpa_notification.adapters.webhooks import WebhookSender
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoints import create_endpoint
from mpa_notification.app.scope import Scope
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.settings import NotificationSettings

ROUTED = "org.mpa.referral.routed.v1"
SLOW_SECONDS = 2.0


async def serve_receiver() -> tuple[asyncio.Server, int]:
    """HTTP/1.1 with keep-alive; `/slow/...` answers after SLOW_SECONDS, others at once."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                if request_line.split(" ")[1].startswith("/slow"):
                    await asyncio.sleep(SLOW_SECONDS)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, int(port)


async def run_scenario(
    name: str, base_url: str, port: int, messages: int, slow_endpoints: int
) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base_url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
        for statement in NOTIFY_TRIGGER_SQL:
            await connection.execute(text(statement))
    settings = NotificationSettings(
        database_url=base_url,
        database_schema=schema,
        webhook_allowed_networks=("127.0.0.1/32",),
        retry_schedule_seconds=(0, 1),
        dispatch_concurrency=64,
        endpoint_max_in_flight=8,
        dispatch_poll_seconds=0.05,
    )
    engine = create_engine(
        settings.database_url.get_secret_value(), pool_size=10, schema=settings.database_schema
    )
    scoped = create_async_engine(
        base_url, connect_args={"server_settings": {"search_path": schema}}
    )
    context = NotificationContext.build(settings, create_session_factory(engine))
    try:
        partner = uuid.uuid4()
        endpoint_ids = []
        for index in range(10):
            path = "/slow" if index < slow_endpoints else "/fast"
            endpoint, _ = await create_endpoint(
                context,
                Scope(None),
                partner_id=partner,
                url=f"http://127.0.0.1:{port}{path}/{index}",
                description="bench",
                event_types=(ROUTED,),
                rate_limit_per_second=None,
                max_in_flight=None,
            )
            endpoint_ids.append(endpoint.id)
        body = json.dumps({"type": ROUTED, "timestamp": datetime.now(UTC).isoformat(), "data": {}})
        async with scoped.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO deliveries (id, channel, audience, endpoint_id, "
                    "partner_id, event_type, body, state, next_attempt_at) "
                    "SELECT gen_random_uuid(), 'webhook', 'partner', "
                    "(CAST(:ids AS uuid[]))[1 + (n % 10)], :partner, :type, CAST(:body AS jsonb), "
                    "'pending', now() FROM generate_series(0, :count - 1) AS n"
                ),
                {
                    "ids": [str(i) for i in endpoint_ids],
                    "partner": partner,
                    "type": ROUTED,
                    "body": body,
                    "count": messages,
                },
            )
        fast_ids = [str(i) for i in endpoint_ids[slow_endpoints:]]
        fast_total = messages * len(fast_ids) // 10
        dispatcher = Dispatcher(
            context,
            WebhookSender(context.policy, timeout=15, max_connections=64),
            EmailSender(settings),
        )
        started = time.perf_counter()
        await dispatcher.start()
        delivered = 0
        while delivered < fast_total:
            await asyncio.sleep(0.05)
            async with scoped.connect() as connection:
                delivered = (
                    await connection.execute(
                        text(
                            "SELECT count(*) FROM deliveries WHERE state = 'delivered' "
                            "AND endpoint_id = ANY(CAST(:ids AS uuid[]))"
                        ),
                        {"ids": fast_ids},
                    )
                ).scalar_one()
        elapsed = time.perf_counter() - started
        async with scoped.connect() as connection:
            slow_done = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM deliveries WHERE state = 'delivered' "
                        "AND NOT (endpoint_id = ANY(CAST(:ids AS uuid[])))"
                    ),
                    {"ids": fast_ids},
                )
            ).scalar_one()
        await dispatcher.stop(timeout=SLOW_SECONDS + 1)
        print(
            f"{name}: {fast_total} deliveries to {len(fast_ids)} fast endpoints in "
            f"{elapsed:.2f} s = {fast_total / elapsed:,.0f} deliveries/s"
            + (
                f"; meanwhile the slow endpoint ({SLOW_SECONDS:g} s per answer, 8 in flight) "
                f"got {slow_done} ({slow_done / elapsed:.1f}/s)"
                if slow_endpoints
                else ""
            )
        )
    finally:
        await engine.dispose()
        await scoped.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    arguments = parser.parse_args()
    base_url = local_database_url("notification")
    server, port = await serve_receiver()
    try:
        await run_scenario("ten fast endpoints", base_url, port, arguments.messages, 0)
        await run_scenario("one of ten slow   ", base_url, port, arguments.messages, 1)
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
