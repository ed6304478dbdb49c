"""Benchmark of the audit log's appends in batches, on the real PostgreSQL and Kafka.

Usage (from the repository root, stack up)::

    .venv/bin/python services/audit/bench/bench_append.py [--events N] [--batch B ...]
        [--replay N] [--profile-out FILE]

Everything runs in throw-away schemas of the mpa_audit database and private topics (dropped
at the end), as the runtime role, with the other services idle:

1. **batch appends**: N events (all of the contracts' event types, fresh ids) encoded and
   appended through the audit's batch use case, B per transaction (what the consumer hands
   the batch handler per partition): leaves per second, and the share of the time spent
   encoding leaves in Python and in the database;
2. **backlog replay**: N events published to the platform's topics, then the audit's log
   consumer (wired as `main.py` wires it) started on them: leaves per second from its start
   until the log holds them all. With the shared consumer handing batches this approaches
   (1); with one event per transaction it is bounded by one commit per event.

The figures to compare with the target (>= 20,000 leaves/s replaying a backlog) and with the
machine's own limits: 2 cores shared by PostgreSQL, Kafka and the benchmark itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mpa_audit.adapters.log_store import LogStore
from mpa_audit.adapters.schema import provision_schema
from mpa_audit.adapters.tables import outbox
from mpa_audit.adapters.uow import AuditUnitOfWork
from mpa_audit.app.append import append_batch, observe_event
from mpa_audit.domain.leaf import RecordOrigin
from mpa_audit.handlers import log_subscription
from mpa_audit.settings import AuditSettings
from mpa_cli.stack.topics import ensure_topics
from mpa_common.kafka import operator_options
from mpa_common.service import ServiceContext
from mpa_common.settings import (
    LOCAL_KAFKA_BOOTSTRAP_SERVERS,
    RUNTIME_ROLES,
    local_database_url,
    local_owner_database_url,
)
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.examples import EXAMPLES
from mpa_contracts.topics import topic_for_event_type

OWNER_URL = os.environ.get("AUDIT_MIGRATIONS_DATABASE_URL") or local_owner_database_url("audit")
RUNTIME_URL = os.environ.get("AUDIT_DATABASE_URL") or local_database_url("audit")
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or LOCAL_KAFKA_BOOTSTRAP_SERVERS
SOURCES = {
    "mpa.case.v1": "urn:mpa:service:intake",
    "mpa.access.v1": "urn:mpa:service:intake",
    "mpa.referral.v1": "urn:mpa:service:referral",
    "mpa.directory.v1": "urn:mpa:service:referral",
    "mpa.notification.v1": "urn:mpa:service:notification",
    "mpa.psea.v1": "urn:mpa:service:intake",
}


def events(count: int) -> list[Envelope]:
    """``count`` events cycling through every event type of the contracts, fresh ids."""
    payloads = list(EXAMPLES.values())
    built = []
    for number in range(count):
        payload = payloads[number % len(payloads)]
        key_field = topic_for_event_type(payload.event_type).key
        fresh = payload.model_copy(update={key_field: uuid.uuid4()})
        topic = topic_for_event_type(payload.event_type).name
        built.append(new_envelope(fresh, source=SOURCES[topic]))
    return built


async def new_schema(owner: AsyncEngine) -> str:
    schema = f"bench_append_{uuid.uuid4().hex[:8]}"
    async with owner.begin() as connection:
        await provision_schema(connection, schema, RUNTIME_ROLES["audit"])
    return schema


async def drop_schema(owner: AsyncEngine, schema: str) -> None:
    async with owner.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process, from /proc (PostgreSQL's backend is local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def sum_cpu(pids: Sequence[int]) -> float:
    return sum(process_cpu_seconds(pid) or 0.0 for pid in pids)


async def database_pids(engine: AsyncEngine) -> list[int]:
    """The server processes of the database's connections (the pool keeps them open)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [int(pid) for (pid,) in rows]


async def backend_pid(uow_factory: Callable[[], AuditUnitOfWork]) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(text("SELECT pg_backend_pid()")))


def runtime_engine(schema: str) -> AsyncEngine:
    return create_async_engine(
        RUNTIME_URL, connect_args={"server_settings": {"search_path": schema}}
    )


async def bench_batches(owner: AsyncEngine, envelopes: Sequence[Envelope], batch: int) -> float:
    schema = await new_schema(owner)
    engine = runtime_engine(schema)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    def uow_factory() -> AuditUnitOfWork:
        return AuditUnitOfWork(sessions, outbox, source="urn:mpa:service:audit")

    encode_seconds = 0.0
    try:
        # Warm the connection pool and the prepared statements, as a running service is.
        async with uow_factory() as uow:
            await append_batch(uow.log, [observe_event(events(1)[0], RecordOrigin("w", 0, 0))])
            await uow.commit()
        pid = await backend_pid(uow_factory)
        database_cpu = process_cpu_seconds(pid)
        python_cpu = time.process_time()
        started = time.perf_counter()
        for first in range(0, len(envelopes), batch):
            chunk = envelopes[first : first + batch]
            partition = (first // batch) % 6
            encoding = time.perf_counter()
            observations = [
                observe_event(e, RecordOrigin("mpa.bench.v1", partition, first + i))
                for i, e in enumerate(chunk)
            ]
            encode_seconds += time.perf_counter() - encoding
            async with uow_factory() as uow:
                await append_batch(uow.log, observations)
                await uow.commit()
        elapsed = time.perf_counter() - started
        python_cpu = time.process_time() - python_cpu
        rate = len(envelopes) / elapsed
        print(
            f"batch appends, {batch:5} per transaction   {rate:9,.0f} leaves/s  "
            f"({len(envelopes):,} leaves in {elapsed:.1f} s; leaf encoding "
            f"{encode_seconds / elapsed:.0%} of it)"
        )
        after = process_cpu_seconds(pid)
        if database_cpu is not None and after is not None and pid == await backend_pid(uow_factory):
            per_leaf_python = python_cpu / len(envelopes) * 1e6
            per_leaf_database = (after - database_cpu) / len(envelopes) * 1e6
            overlapped = 1e6 / max(per_leaf_python, per_leaf_database)
            sequential = 1e6 / (per_leaf_python + per_leaf_database)
            print(
                f"  CPU per leaf: Python {per_leaf_python:.0f} us, PostgreSQL backend "
                f"{per_leaf_database:.0f} us: on two idle cores, with encoding overlapping "
                f"the database's work, {overlapped:,.0f} leaves/s (one after the other: "
                f"{sequential:,.0f})"
            )
        return rate
    finally:
        await engine.dispose()
        await drop_schema(owner, schema)


async def publish_backlog(prefix: str, envelopes: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(
        **operator_options(BOOTSTRAP), enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        pending = []
        for envelope in envelopes:
            record = to_kafka_record(envelope)
            pending.append(
                await producer.send(
                    prefix + record.topic, value=record.value, key=record.key,
                    headers=record.headers,
                )
            )  # fmt: skip
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def bench_replay(owner: AsyncEngine, count: int) -> float:
    """The audit's consumer replaying a backlog of ``count`` events from offset 0."""
    from aiokafka.admin import AIOKafkaAdminClient

    schema = await new_schema(owner)
    prefix = f"{schema}."
    topics = await ensure_topics(BOOTSTRAP, prefix)
    # The consumer as main.py builds it: the service's settings (batch size and all), its
    # units of work, the audit's subscription and principal; its group is the benchmark's
    # own by the prefix (the audit's ACLs name the prefixed group).
    settings = AuditSettings(database_schema=schema, **{"KAFKA_TOPIC_PREFIX": prefix})
    service = ServiceContext.create(settings)
    units_of_work = service.units_of_work(outbox, AuditUnitOfWork)
    try:
        backlog = events(count)
        started = time.perf_counter()
        await publish_backlog(prefix, backlog)
        print(
            f"backlog published                  {count / (time.perf_counter() - started):9,.0f}"
            f" events/s ({count:,} events over {len(topics) // 2} topics)"
        )
        consumer = service.consumer(
            log_subscription(lambda uow: LogStore(uow.session), units_of_work),
            unit_of_work=service.units_of_work(outbox),
            processed=None,
        )
        started = time.perf_counter()
        await consumer.start()
        try:
            # From the first leaf on: the group's join (seconds on a loaded machine) is not
            # the append path. CPU from there too: this process (the consumer, and the
            # 0.1 s progress polls) and the database's server processes.
            size, first_leaf, cpu_start = 0, 0, (0.0, 0.0)
            while size < count:
                await asyncio.sleep(0.1)
                async with units_of_work() as uow:
                    size = await uow.log.tree_size()
                if size and not first_leaf:
                    first_leaf = size
                    pids = await database_pids(service.engine)
                    cpu_start = (time.process_time(), sum_cpu(pids))
                    steady = time.perf_counter()
                elapsed = time.perf_counter() - started
                print(f"\r  replaying: {size:,}/{count:,} leaves, {elapsed:.0f} s", end="")
                sys.stdout.flush()
            python_cpu = time.process_time() - cpu_start[0]
            database_cpu = sum_cpu(pids) - cpu_start[1]
            steady_elapsed = time.perf_counter() - steady
        finally:
            await consumer.stop()
        elapsed = time.perf_counter() - started
        rate = count / elapsed
        replayed = count - first_leaf
        print(
            f"\rbacklog replay by the log consumer {rate:9,.0f} leaves/s  "
            f"({count:,} in {elapsed:.1f} s, the group's join included; {consumer.batches:,} "
            f"batches, {count / max(consumer.batches, 1):,.0f} leaves each)"
        )
        if replayed > 0:
            per_python = python_cpu / replayed * 1e6
            per_database = database_cpu / replayed * 1e6
            print(
                f"  from the first leaf on           {replayed / steady_elapsed:9,.0f} leaves/s; "
                f"CPU per leaf: consumer process {per_python:.0f} us, PostgreSQL "
                f"{per_database:.0f} us: on two idle cores "
                f"{1e6 / max(per_python, per_database):,.0f} leaves/s (one after the other: "
                f"{1e6 / (per_python + per_database):,.0f})"
            )
        return rate
    finally:
        await service.engine.dispose()
        admin = AIOKafkaAdminClient(**operator_options(BOOTSTRAP))
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()
        await drop_schema(owner, schema)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, action="append", default=[])
    parser.add_argument("--replay", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    arguments = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    owner = create_async_engine(OWNER_URL)
    try:
        envelopes = events(arguments.events)
        for batch in arguments.batch or [500, 2000]:
            rates = [await bench_batches(owner, envelopes, batch) for _ in range(arguments.rounds)]
            if len(rates) > 1:
                print(f"  median of {len(rates)} rounds: {statistics.median(rates):,.0f} leaves/s")
        if arguments.replay:
            await bench_replay(owner, arguments.replay)
    finally:
        await owner.dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    asyncio.run(main())
