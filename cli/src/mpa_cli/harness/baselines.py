"""The machine's own limits, measured on the same servers in the same run as the platform:
aiokafka producing and consuming records of the platform's size, and single-row PostgreSQL
INSERT commits on 1 and on 8 connections. The platform's figures are shown as ratios of these,
because a shared 2-core machine is noisy and only same-run ratios compare.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import asdict, dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from mpa_cli.harness.load import percentile
from mpa_common.kafka import KafkaTarget, options_of


@dataclass(frozen=True)
class KafkaBaseline:
    record_bytes: int
    records: int
    produced_per_second: float  # idempotent producer, acks=all, as the relay is configured
    consumed_per_second: float
    produce_to_consume_p50_ms: float  # one record at a time, a consumer waiting for it

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PostgresBaseline:
    row_bytes: int
    commits_per_second_1: float  # single-row INSERT, each its own transaction, 1 connection
    commits_per_second_8: float  # the same on 8 connections at once
    commit_p50_ms_1: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


async def kafka_baseline(
    kafka: KafkaTarget, *, record_bytes: int, records: int = 30_000, probes: int = 200
) -> KafkaBaseline:
    topic = f"harness-baseline-{uuid.uuid4().hex[:8]}"
    options = options_of(kafka)  # the same SASL/SCRAM connection the platform's clients use
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
        value = os.urandom(record_bytes)
        producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all", linger_ms=5)
        await producer.start()
        try:
            started = time.perf_counter()
            pending = [
                await producer.send(topic, value=value, key=str(i % 600).encode())
                for i in range(records)
            ]
            await asyncio.gather(*pending)
            produced = records / (time.perf_counter() - started)
            consumer = AIOKafkaConsumer(
                topic,
                **options,
                group_id=None,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            try:
                await consumer.getmany(timeout_ms=2000, max_records=1)  # assignment + metadata
                await consumer.seek_to_beginning()
                seen = 0
                started = time.perf_counter()
                while seen < records:
                    for batch in (
                        await consumer.getmany(timeout_ms=1000, max_records=10_000)
                    ).values():
                        seen += len(batch)
                consumed = records / (time.perf_counter() - started)
                latencies = []
                for _ in range(probes):
                    sent = time.perf_counter()
                    await producer.send_and_wait(topic, value=value, key=b"probe")
                    while not any((await consumer.getmany(timeout_ms=1000)).values()):
                        pass
                    latencies.append((time.perf_counter() - sent) * 1000)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()
        await admin.delete_topics([topic])
    finally:
        await admin.close()
    return KafkaBaseline(record_bytes, records, produced, consumed, percentile(latencies, 0.5))


async def postgres_baseline(
    dsn: str, *, row_bytes: int, seconds: float = 4.0, connections: int = 8
) -> PostgresBaseline:
    table = f"harness_baseline_{uuid.uuid4().hex[:8]}"
    payload = "x" * row_bytes
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload text NOT NULL)"
        )
        single, latencies = await _commits(dsn, table, payload, 1, seconds)
        many, _ = await _commits(dsn, table, payload, connections, seconds)
        await setup.execute(f"DROP TABLE {table}")
    finally:
        await setup.close()
    return PostgresBaseline(row_bytes, single, many, percentile(latencies, 0.5))


async def _commits(
    dsn: str, table: str, payload: str, connections: int, seconds: float
) -> tuple[float, list[float]]:
    pool = [await asyncpg.connect(dsn) for _ in range(connections)]
    latencies: list[float] = []
    done = 0
    try:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def writer(connection: asyncpg.Connection) -> None:
            nonlocal done
            statement = f"INSERT INTO {table} (payload) VALUES ($1)"  # noqa: S608 - our table
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await connection.execute(statement, payload)  # autocommit: one commit each
                latencies.append((time.perf_counter() - began) * 1000)
                done += 1

        await asyncio.gather(*(writer(c) for c in pool))
        return done / (time.perf_counter() - started), latencies
    finally:
        for connection in pool:
            await connection.close()
