"""End offsets of source partitions, asked of Kafka (for the coverage report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from mpa_common.failures import DependencyUnavailable

_UNKNOWN_TOPIC = 3


async def end_offsets(
    kafka_options: Mapping[str, Any], topics: Sequence[str], *, timeout_seconds: float = 10.0
) -> dict[tuple[str, int], int]:
    """Per (topic, partition) of ``topics`` that exist, the offset the next record will get
    (as a read_committed consumer sees it, like the audit consumer). Raises
    DependencyUnavailable when the broker cannot be asked."""
    try:
        return await _end_offsets(kafka_options, topics, timeout_seconds)
    except (KafkaError, OSError, TimeoutError) as error:
        raise DependencyUnavailable("kafka", type(error).__name__) from error


async def _end_offsets(
    kafka_options: Mapping[str, Any], topics: Sequence[str], timeout_seconds: float
) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(
        **kafka_options,
        client_id="mpa-audit-coverage",
        request_timeout_ms=int(timeout_seconds * 1000),
    )
    await admin.start()
    try:
        # Asked explicitly: a client's cached metadata may not know a topic created lately.
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] != _UNKNOWN_TOPIC
        for partition in topic["partitions"]
    ]
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        **kafka_options,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="mpa-audit-coverage",
        request_timeout_ms=int(timeout_seconds * 1000),
    )
    await consumer.start()
    try:
        offsets = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): int(offset) for tp, offset in offsets.items()}
