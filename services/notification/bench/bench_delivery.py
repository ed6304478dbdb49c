"""Notification throughput: webhooks per second to a fast local receiver, how the rate holds
when one of ten endpoints answers slowly, and fan-out of referral events per second — each
beside a baseline measured in the same run, because this machine is shared and noisy.

Runs the real dispatcher (bulk claims with FOR UPDATE SKIP LOCKED and leases, signing,
POSTs over reused connections, attempt results and their events recorded in bulk) against
the local PostgreSQL, in a private schema of the notification database that is dropped
afterwards. The receiver is a separate process on 127.0.0.1 (raw asyncio, HTTP/1.1
keep-alive, 204 at once; `/slow/...` after 2 s) that counts requests and distinct
`webhook-id`s. Needs the local stack (`make stack`).

    .venv/bin/python services/notification/bench/bench_delivery.py [--messages 20000]

Baselines: the same POSTs sent by a bare aiohttp client at the same concurrency (what the
HTTP client alone allows; bare httpx beside it, which the dispatcher used before), and
single-row INSERT commits on one connection. To profile:
`py-spy record -f raw -o out.txt -- .venv/bin/python services/notification/bench/...`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp
import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mpa_common.db import create_engine, create_session_factory
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_common.messaging.tables import NOTIFY_TRIGGER_SQL
from mpa_common.settings import local_database_url
from mpa_contracts import examples
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.secrets import SecretBox
from mpa_notification.adapters.tables import metadata
from mpa_notification.adapters.uow import NotificationUnitOfWork
from mpa_notification.adapters.webhooks import WebhookSender, resolve_checked
from mpa_notification.app.commands import CreateEndpoint
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoints import create_endpoint
from mpa_notification.app.scope import Scope
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.domain.url_policy import UrlPolicy
from mpa_notification.handlers import subscription
from mpa_notification.settings import NotificationSettings

ROUTED = "org.mpa.referral.routed.v1"
REQUESTED = "org.mpa.referral.requested.v1"
SLOW_SECONDS = 2.0
ENDPOINTS = 10
BODY = json.dumps(
    {"type": ROUTED, "timestamp": datetime.now(UTC).isoformat(), "data": {"x": "y" * 300}}
)

# --- CPU accounting: wall-clock rates on a shared machine say little; CPU per webhook does ---


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def database_pids(engine: AsyncEngine) -> list[int]:
    """The server processes of this database's connections (the pool keeps them open)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [int(pid) for (pid,) in rows]


@dataclass
class CpuMeter:
    """CPU used by this process and the given others (the database's, the receiver's)."""

    others: dict[str, list[int]]
    start: dict[str, float] | None = None

    def _now(self) -> dict[str, float]:
        used = {"dispatcher process": time.process_time()}
        for name, pids in self.others.items():
            used[name] = sum(_cpu_seconds(pid) for pid in pids)
        return used

    def __enter__(self) -> CpuMeter:
        self.start = self._now()
        return self

    def used(self) -> dict[str, float]:
        assert self.start is not None
        now = self._now()
        return {name: now[name] - self.start[name] for name in now}


# --- the receiver: its own process, so it does not share the dispatcher's core ----------------


def _receiver_main(port: int, ready: Any) -> None:
    class Receiver(asyncio.Protocol):
        count = 0
        ids: set[bytes] = set()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower()
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        Receiver.ids.add(value.strip())
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                if head.startswith(b"get /count"):
                    body = json.dumps({"requests": Receiver.count, "ids": len(Receiver.ids)})
                    self.transport.write(
                        f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n{body}".encode()
                    )
                    continue
                Receiver.count += 1
                if head.startswith(b"post /slow"):
                    asyncio.get_running_loop().call_later(SLOW_SECONDS, self._answer)
                else:
                    self._answer()

        def _answer(self) -> None:
            if not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[int, int]]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_receiver_main, args=(port, ready), daemon=True)
    process.start()
    ready.wait(10)
    try:
        assert process.pid is not None
        yield port, process.pid
    finally:
        process.terminate()
        process.join(5)


async def received(port: int) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        answer: dict[str, int] = (await client.get(f"http://127.0.0.1:{port}/count")).json()
        return answer


# --- a private schema -------------------------------------------------------------------------


@dataclass
class Ground:
    base_url: str
    schema: str
    engine: AsyncEngine
    scoped: AsyncEngine

    def settings(self, **overrides: Any) -> NotificationSettings:
        values: dict[str, Any] = {
            "database_url": self.base_url,
            "database_schema": self.schema,
            "webhook_allowed_networks": ("127.0.0.1/32",),
            "retry_schedule_seconds": (0, 1),
            "dispatch_poll_seconds": 0.05,
            **overrides,
        }
        return NotificationSettings(**values)

    def unit_of_work(self) -> NotificationUnitOfWork:
        return NotificationUnitOfWork(
            create_session_factory(self.engine), source="urn:mpa:service:notification"
        )

    async def count(self, sql: str, **params: Any) -> int:
        async with self.scoped.connect() as connection:
            return int((await connection.execute(text(sql), params)).scalar_one())


@asynccontextmanager
async def private_schema(base_url: str) -> AsyncIterator[Ground]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base_url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
        for statement in NOTIFY_TRIGGER_SQL:
            await connection.execute(text(statement))
    engine = create_engine(base_url, pool_size=10, schema=schema)
    scoped = create_async_engine(
        base_url, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        yield Ground(base_url, schema, engine, scoped)
    finally:
        await engine.dispose()
        await scoped.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


def context_for(settings: NotificationSettings) -> tuple[NotificationContext, UrlPolicy]:
    policy = UrlPolicy.build(allow_http=True, allowed_networks=settings.webhook_allowed_networks)
    context = NotificationContext(
        settings=settings,
        secrets=SecretBox.from_settings(settings),
        check_url=partial(resolve_checked, policy=policy),
        schedule=NotificationContext.schedule_of(settings),
    )
    return context, policy


# --- more replicas: dispatchers in processes of their own, sharing the database -------------


def _replica_main(
    base_url: str, schema: str, concurrency: int, max_in_flight: int, ready: Any, go: Any, stop: Any
) -> None:
    async def run() -> None:
        engine = create_engine(base_url, pool_size=10, schema=schema)
        ground = Ground(base_url, schema, engine, engine)
        settings = ground.settings(
            dispatch_concurrency=concurrency, endpoint_max_in_flight=max_in_flight
        )
        context, policy = context_for(settings)
        dispatcher = Dispatcher(
            context,
            ground.unit_of_work,
            WebhookSender(policy, timeout=15, max_connections=concurrency),
            EmailSender(settings),
        )
        async with engine.connect() as warm:  # its connection open: its pid is counted
            await warm.execute(text("SELECT 1"))
        ready.set()
        await asyncio.to_thread(go.wait)
        await dispatcher.start()
        await asyncio.to_thread(stop.wait)
        await dispatcher.stop(timeout=SLOW_SECONDS + 1)
        await engine.dispose()

    asyncio.run(run())


# --- the dispatcher -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchFigures:
    name: str
    delivered: int
    seconds: float
    slow_delivered: int
    requests: int
    distinct_ids: int
    phases: str
    cpu: dict[str, float]

    def cpu_line(self) -> str:
        per = {name: 1000 * seconds / self.delivered for name, seconds in self.cpu.items()}
        total = sum(per.values())
        parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per.items())
        loops = per["dispatcher process"] + per.get("other replicas", 0.0)
        return (
            f"CPU ms per webhook: {parts}; total {total:.2f} ms -> an idle 2-core machine "
            f"could run about {2000 / total:,.0f}/s (one dispatcher's event loop: "
            f"{1000 / loops:,.0f}/s)"
        )

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds


async def dispatch(
    base_url: str,
    port: int,
    receiver_pid: int,
    messages: int,
    *,
    slow_endpoints: int,
    concurrency: int,
    max_in_flight: int,
    replicas: int = 1,
) -> DispatchFigures:
    before = await received(port)
    async with private_schema(base_url) as ground:
        settings = ground.settings(
            dispatch_concurrency=concurrency, endpoint_max_in_flight=max_in_flight
        )
        context, policy = context_for(settings)
        partner = uuid.uuid4()
        endpoint_ids = []
        for index in range(ENDPOINTS):
            path = "/slow" if index < slow_endpoints else "/fast"
            created = await create_endpoint(
                CreateEndpoint(
                    Scope(None),
                    partner_id=partner,
                    url=f"http://127.0.0.1:{port}{path}/{index}",
                    event_types=(ROUTED,),
                    max_in_flight=max_in_flight,
                ),
                ground.unit_of_work,
                context,
            )
            endpoint_ids.append(created.endpoint.id)
        async with ground.scoped.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO deliveries (id, channel, audience, endpoint_id, "
                    "partner_id, event_type, body, state, next_attempt_at) "
                    "SELECT gen_random_uuid(), 'webhook', 'partner', "
                    "(CAST(:ids AS uuid[]))[1 + (n % :endpoints)], :partner, :type, "
                    "CAST(:body AS jsonb), 'pending', now() "
                    "FROM generate_series(0, :count - 1) AS n"
                ),
                {
                    "ids": [str(i) for i in endpoint_ids],
                    "endpoints": ENDPOINTS,
                    "partner": partner,
                    "type": ROUTED,
                    "body": BODY,
                    "count": messages,
                },
            )
            # As autovacuum would after such an insert: the claim's plan needs the numbers.
            await connection.execute(text("ANALYZE deliveries"))
        fast_ids = [str(i) for i in endpoint_ids[slow_endpoints:]]
        fast_total = messages * len(fast_ids) // ENDPOINTS
        dispatcher = Dispatcher(
            context,
            ground.unit_of_work,
            WebhookSender(policy, timeout=15, max_connections=concurrency),
            EmailSender(settings),
        )
        spawn = multiprocessing.get_context("spawn")
        go, stop = spawn.Event(), spawn.Event()
        others = []
        for _ in range(replicas - 1):
            ready = spawn.Event()
            process = spawn.Process(
                target=_replica_main,
                args=(base_url, ground.schema, concurrency, max_in_flight, ready, go, stop),
                daemon=True,
            )
            process.start()
            others.append((process, ready))
        for _, ready in others:
            ready.wait(60)
        await ground.count("SELECT 1")  # the pools' connections open, their pids known
        async with ground.engine.connect() as warm:
            await warm.execute(text("SELECT 1"))
        measured = {"PostgreSQL": await database_pids(ground.scoped), "receiver": [receiver_pid]}
        if others:
            measured["other replicas"] = [p.pid for p, _ in others if p.pid is not None]
        meter = CpuMeter(measured).__enter__()
        started = time.perf_counter()
        go.set()
        await dispatcher.start()
        delivered = 0
        while delivered < fast_total:
            await asyncio.sleep(0.25)
            delivered = await ground.count(
                "SELECT count(*) FROM deliveries WHERE state = 'delivered' "
                "AND endpoint_id = ANY(CAST(:ids AS uuid[]))",
                ids=fast_ids,
            )
            print(
                f"\r  {delivered:>7} / {fast_total} delivered "
                f"({delivered / (time.perf_counter() - started):,.0f}/s)",
                end="",
                flush=True,
            )
        elapsed = time.perf_counter() - started
        cpu = meter.used()
        print("\r" + " " * 60 + "\r", end="")
        slow_done = (
            await ground.count(
                "SELECT count(*) FROM deliveries WHERE state = 'delivered' "
                "AND NOT (endpoint_id = ANY(CAST(:ids AS uuid[])))",
                ids=fast_ids,
            )
            if slow_endpoints
            else 0
        )
        stop.set()
        await dispatcher.stop(timeout=SLOW_SECONDS + 1)
        for process, _ in others:
            process.join(SLOW_SECONDS + 10)
        d = dispatcher
        phases = (
            f"{d.claims} claims of {d.claimed / max(d.claims, 1):.0f} on average, "
            f"{1000 * d.claim_seconds / max(d.claims, 1):.0f} ms each; "
            f"{d.recordings} recordings of {d.attempts_recorded / max(d.recordings, 1):.0f}, "
            f"{1000 * d.record_seconds / max(d.recordings, 1):.0f} ms each"
        )
    after = await received(port)
    name = "one of ten slow" if slow_endpoints else "ten fast endpoints"
    return DispatchFigures(
        f"{name}, {replicas} replicas" if replicas > 1 else name,
        fast_total,
        elapsed,
        slow_done,
        after["requests"] - before["requests"],
        after["ids"] - before["ids"],
        phases,
        cpu,
    )


# --- baselines ----------------------------------------------------------------------------------


async def bare_httpx(port: int, requests: int, concurrency: int) -> float:
    """POSTs per second of a bare httpx client, same body, same concurrency."""
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        timeout=httpx.Timeout(120),
    ) as client:
        gate = asyncio.Semaphore(concurrency)
        payload = BODY.encode()

        async def one() -> None:
            async with gate:
                await client.post(
                    f"http://127.0.0.1:{port}/fast/baseline",
                    content=payload,
                    headers={"content-type": "application/json"},
                )

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)


async def bare_aiohttp(port: int, requests: int, concurrency: int) -> float:
    """POSTs per second of a bare aiohttp client (what the dispatcher sends with)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(concurrency)
        payload = BODY.encode()

        async def one() -> None:
            async with (
                gate,
                session.post(
                    f"http://127.0.0.1:{port}/fast/baseline",
                    data=payload,
                    headers={"content-type": "application/json"},
                ) as response,
            ):
                await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - started)


async def single_row_commits(base_url: str, seconds: float = 3.0) -> float:
    """INSERT + COMMIT per second on one connection (asyncpg, no ORM)."""
    connection = await asyncpg.connect(base_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("CREATE TEMP TABLE bench_commits (id bigint, at timestamptz)")
        done = 0
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            async with connection.transaction():
                await connection.execute("INSERT INTO bench_commits VALUES ($1, now())", done)
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        await connection.close()


# --- fan-out ------------------------------------------------------------------------------------


def _story(partner: uuid.UUID) -> list[Envelope]:
    referral, case = uuid.uuid4(), uuid.uuid4()
    found = []
    for event_type in (REQUESTED, ROUTED):
        raw = examples.example_event(event_type).model_dump_json()
        for old, new in (
            (examples.REFERRAL_ID, referral),
            (examples.CASE_ID, case),
            (examples.PARTNER_ID, partner),
        ):
            raw = raw.replace(str(old), str(new))
        data = type(examples.example_event(event_type)).model_validate(json.loads(raw))
        found.append(new_envelope(data, source="urn:mpa:service:referral"))
    return found


async def fan_out(base_url: str, stories: int, batch: int) -> float:
    """Referral events per second through the handler table, `batch` per transaction (as
    the consumer hands them over), each routed one creating a webhook delivery."""
    async with private_schema(base_url) as ground:
        context, _ = context_for(ground.settings())
        partners = [uuid.uuid4() for _ in range(ENDPOINTS)]
        for partner in partners:
            await create_endpoint(
                CreateEndpoint(
                    Scope(None),
                    partner_id=partner,
                    url="http://127.0.0.1:9/hook",
                    event_types=(ROUTED,),
                ),
                ground.unit_of_work,
                context,
            )
        table = subscription(context)
        events = [e for i in range(stories) for e in _story(partners[i % ENDPOINTS])]
        deliveries = [Delivery(e, RecordOrigin("t", 0, i, 0)) for i, e in enumerate(events)]
        started = time.perf_counter()
        for first in range(0, len(deliveries), batch):
            async with ground.unit_of_work() as uow:
                for delivery in deliveries[first : first + batch]:
                    entry = table.entry_for(delivery.envelope.type)
                    assert entry is not None
                    await entry.handler(uow, delivery.envelope.data, delivery)
                await uow.commit()
        rate = len(events) / (time.perf_counter() - started)
        created = await ground.count("SELECT count(*) FROM deliveries")
        assert created == stories, f"{created} deliveries for {stories} routed events"
        return rate


# --- the report ---------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--max-in-flight", type=int, default=16, help="per endpoint")
    parser.add_argument("--stories", type=int, default=1000, help="fan-out: referrals")
    parser.add_argument(
        "--only", choices=("dispatch", "fan-out"), help="run one part (e.g. to profile it)"
    )
    parser.add_argument(
        "--replicas", type=int, default=2, help="also run the fast case with this many"
    )
    arguments = parser.parse_args()
    base_url = local_database_url("notification")
    concurrency = arguments.concurrency
    async with receiver() as (port, receiver_pid):
        raw = await bare_aiohttp(port, min(arguments.messages, 10_000), concurrency)
        slow_client = await bare_httpx(port, 1000, concurrency)
        commits = await single_row_commits(base_url)
        print(
            f"baselines (concurrency {concurrency}): bare aiohttp {raw:,.0f} POST/s, bare httpx "
            f"{slow_client:,.0f} POST/s; PostgreSQL {commits:,.0f} single-row commits/s "
            "(1 connection)"
        )
        for slow in (0, 1) if arguments.only != "fan-out" else ():
            figures = await dispatch(
                base_url,
                port,
                receiver_pid,
                arguments.messages,
                slow_endpoints=slow,
                concurrency=concurrency,
                max_in_flight=arguments.max_in_flight,
            )
            line = (
                f"{figures.name:<19}: {figures.delivered} webhooks in {figures.seconds:.2f} s = "
                f"{figures.rate:,.0f}/s ({figures.rate / raw:.0%} of bare aiohttp); "
                f"receiver saw {figures.requests} requests, {figures.distinct_ids} webhook-ids"
            )
            if slow:
                line += (
                    f"; meanwhile the slow endpoint ({SLOW_SECONDS:g} s per answer, "
                    f"{arguments.max_in_flight} in flight) got {figures.slow_delivered}"
                )
            print(line)
            print(f"    ({figures.phases})")
            print(f"    {figures.cpu_line()}")
        if arguments.only != "fan-out" and arguments.replicas > 1:
            figures = await dispatch(
                base_url,
                port,
                receiver_pid,
                arguments.messages,
                slow_endpoints=0,
                concurrency=concurrency,
                max_in_flight=arguments.max_in_flight,
                replicas=arguments.replicas,
            )
            print(
                f"{figures.name}: {figures.delivered} webhooks in {figures.seconds:.2f} s = "
                f"{figures.rate:,.0f}/s ({figures.rate / raw:.0%} of bare aiohttp); receiver "
                f"saw {figures.requests} requests, {figures.distinct_ids} webhook-ids"
            )
            print(f"    {figures.cpu_line()}")
        for batch in (200, 1) if arguments.only != "dispatch" else ():
            rate = await fan_out(base_url, arguments.stories, batch)
            print(
                f"fan-out, {batch:>3} events per transaction: {rate:,.0f} events/s "
                f"({rate / commits:.2f} x single-row commits)"
            )
    print(
        f"(dispatcher: concurrency {concurrency}, {ENDPOINTS} endpoints of "
        f"max_in_flight {arguments.max_in_flight}, {len(BODY)}-byte bodies, "
        f"{multiprocessing.cpu_count()} cores, everything on this machine)"
    )


if __name__ == "__main__":
    asyncio.run(main())
