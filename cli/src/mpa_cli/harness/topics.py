"""Reading what is on the topics: every record of every partition up to its end offset, and
the end offsets themselves (the watermarks a scenario's checks start from)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mpa_common.kafka import KafkaTarget, options_of

Offsets = dict[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class TopicRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    headers: Mapping[str, bytes]
    size: int  # bytes of key, value and headers: what a baseline of "the same size" sends

    @property
    def event_id(self) -> str | None:
        value = self.headers.get("ce_id")
        return value.decode() if value is not None else None

    @property
    def event_type(self) -> str | None:
        value = self.headers.get("ce_type")
        return value.decode() if value is not None else None

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")


async def _consumer(kafka: KafkaTarget) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        **options_of(kafka),
        group_id=None,
        enable_auto_commit=False,
        client_id="mpa-harness-reader",
    )
    await consumer.start()
    return consumer


async def partitions_of(kafka: KafkaTarget, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the topics that exist (from the cluster's metadata)."""
    admin = AIOKafkaAdminClient(**options_of(kafka), client_id="mpa-harness")
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], int(p["partition"]))
        for topic in described
        if topic["error_code"] == 0
        for p in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
    ]


async def end_offsets(kafka: KafkaTarget, topics: Sequence[str]) -> Offsets:
    consumer = await _consumer(kafka)
    try:
        partitions = await partitions_of(kafka, topics)
        ends = await consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_records(
    kafka: KafkaTarget,
    topics: Sequence[str],
    *,
    since: Mapping[tuple[str, int], int] | None = None,
    timeout: float = 60.0,
) -> list[TopicRecord]:
    """Every record from `since` (default: the beginning) to the end offsets of now."""
    consumer = await _consumer(kafka)
    try:
        partitions = await partitions_of(kafka, topics)
        ends = {tp: int(o) for tp, o in (await consumer.end_offsets(partitions)).items()}
        starts = {tp: (since or {}).get((tp.topic, tp.partition), 0) for tp in partitions}
        wanted = [tp for tp in partitions if ends[tp] > starts[tp]]
        if not wanted:
            return []
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, starts[tp])
        records: list[TopicRecord] = []
        remaining = set(wanted)
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not read to their end within {timeout} s")
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, batch in batches.items():
                for record in batch:
                    if record.offset >= ends[tp]:
                        continue
                    records.append(
                        TopicRecord(
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            timestamp_ms=record.timestamp,
                            key=record.key,
                            headers={k: v for k, v in (record.headers or ())},
                            size=len(record.key or b"")
                            + len(record.value or b"")
                            + sum(len(k) + len(v) for k, v in (record.headers or ())),
                        )
                    )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            await asyncio.sleep(0)
        return records
    finally:
        await consumer.stop()


class TopicWatcher:
    """Follows topics live from their current end: counts events by type as they appear
    (the benchmark's progress line)."""

    def __init__(self, kafka: KafkaTarget, topics: Sequence[str]) -> None:
        self._kafka = kafka
        self._topics = list(topics)
        self.counts: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = await _consumer(self._kafka)
        partitions = await partitions_of(self._kafka, self._topics)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._follow(), name="topic-watcher")

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            for batch in (await self._consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    headers = dict(record.headers or ())
                    kind = headers.get("ce_type", b"?").decode(errors="replace")
                    self.counts[kind] = self.counts.get(kind, 0) + 1

    def count(self, suffix: str) -> int:
        return sum(n for kind, n in self.counts.items() if kind.endswith(suffix))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
