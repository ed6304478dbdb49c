"""aiokafka 0.14 against the real local Kafka broker (the release pinned in deploy/local).

These prove the broker/client pair the platform depends on: a consumer group with manual
commits, an idempotent producer with acks=all, and a committed and an aborted transaction.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mpa_common.kafka import operator_options
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration


async def _consume(consumer: AIOKafkaConsumer, count: int, timeout: float = 20.0) -> list[bytes]:
    values: list[bytes] = []
    async with asyncio.timeout(timeout):
        while len(values) < count:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                values.extend(r.value for r in records if r.value is not None)
    return values


async def test_broker_reports_the_pinned_version_range(kafka_admin) -> None:
    cluster = await kafka_admin.describe_cluster()
    assert len(cluster["brokers"]) == 1
    # KRaft: the broker also reports a controller id.
    assert cluster["controller_id"] >= 0


async def test_idempotent_producer_and_consumer_group_with_manual_commit(
    bootstrap_servers: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("idem", partitions=3)
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for i in range(300):
            await producer.send(topic, key=f"case-{i % 7}".encode(), value=f"{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    group = f"group-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        topic,
        **operator_options(bootstrap_servers),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        values = await _consume(consumer, 300)
        await consumer.commit()
        assert sorted(int(v) for v in values) == list(range(300))
        committed = {tp.partition: await consumer.committed(tp) for tp in consumer.assignment()}
        assert sum(o or 0 for o in committed.values()) == 300
    finally:
        await consumer.stop()

    # A new member of the same group resumes after the committed offsets: nothing re-read.
    again = AIOKafkaConsumer(
        topic,
        **operator_options(bootstrap_servers),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await again.start()
    try:
        batches = await again.getmany(timeout_ms=1500)
        assert sum(len(r) for r in batches.values()) == 0
    finally:
        await again.stop()


async def test_per_key_order_holds_within_a_partition(
    bootstrap_servers: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("order", partitions=6)
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for i in range(200):
            await producer.send(topic, key=f"case-{i % 5}".encode(), value=f"{i % 5}:{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, **operator_options(bootstrap_servers), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        values = await _consume(consumer, 200)
    finally:
        await consumer.stop()
    by_key: dict[str, list[int]] = {}
    for value in values:
        key, seq = value.decode().split(":")
        by_key.setdefault(key, []).append(int(seq))
    assert len(by_key) == 5
    for seqs in by_key.values():
        assert seqs == sorted(seqs)


async def test_transactions_commit_and_abort(
    bootstrap_servers: str, new_topic: TopicFactory
) -> None:
    topic = await new_topic("txn", partitions=1)
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), transactional_id=f"tx-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
            await producer.send_and_wait(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-3")
    finally:
        await producer.stop()

    committed_reader = AIOKafkaConsumer(
        topic,
        **operator_options(bootstrap_servers),
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await committed_reader.start()
    try:
        values = await _consume(committed_reader, 3)
        # Give an aborted record every chance to show up before asserting it did not.
        extra = await committed_reader.getmany(timeout_ms=1000)
        values.extend(r.value for rs in extra.values() for r in rs if r.value is not None)
    finally:
        await committed_reader.stop()
    assert values == [b"committed-1", b"committed-2", b"committed-3"]

    uncommitted_reader = AIOKafkaConsumer(
        topic,
        **operator_options(bootstrap_servers),
        isolation_level="read_uncommitted",
        auto_offset_reset="earliest",
    )
    await uncommitted_reader.start()
    try:
        raw = await _consume(uncommitted_reader, 4)
    finally:
        await uncommitted_reader.stop()
    assert b"aborted" in raw


async def test_offsets_committed_inside_a_transaction(
    bootstrap_servers: str, new_topic: TopicFactory
) -> None:
    """send_offsets_to_transaction: what a read-process-write step would use."""
    source = await new_topic("src", partitions=1)
    sink = await new_topic("sink", partitions=1)
    seed = AIOKafkaProducer(**operator_options(bootstrap_servers))
    await seed.start()
    await seed.send_and_wait(source, b"in-1")
    await seed.stop()

    group = f"rpw-{uuid.uuid4().hex[:8]}"
    consumer = AIOKafkaConsumer(
        source,
        **operator_options(bootstrap_servers),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), transactional_id=f"rpw-{uuid.uuid4().hex[:8]}"
    )
    await consumer.start()
    await producer.start()
    try:
        [record] = await _consume_records(consumer, 1)
        tp = TopicPartition(source, 0)
        async with producer.transaction():
            await producer.send_and_wait(sink, record.value.upper())
            await producer.send_offsets_to_transaction({tp: record.offset + 1}, group)
    finally:
        await producer.stop()
        await consumer.stop()
    # A new member of the group sees the offset the transaction committed.
    checker = AIOKafkaConsumer(**operator_options(bootstrap_servers), group_id=group)
    await checker.start()
    try:
        assert await checker.committed(tp) == record.offset + 1
    finally:
        await checker.stop()


async def _consume_records(consumer: AIOKafkaConsumer, count: int):  # type: ignore[no-untyped-def]
    records = []
    async with asyncio.timeout(20):
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=500)
            for rs in batches.values():
                records.extend(rs)
    return records
