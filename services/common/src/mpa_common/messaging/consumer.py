"""Idempotent Kafka consumers: each event's effects are committed exactly once.

For every record: parse the CloudEvent (an invalid record goes straight to the dead-letter
topic), then in ONE database transaction record `(consumer, event id)` in processed_events and
run the handler; a redelivered event finds its row and is skipped. Only after that commit is
the Kafka offset committed (explicitly, and only for partitions still assigned: after a
rebalance the new owner re-reads and skips). A handler that keeps failing is retried with
backoff a bounded number of times, then dead-lettered with the error and its origin, and the
consumer moves on. Records of one partition are handled one after another: per-key order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry import propagate, trace
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential_jitter

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope, InvalidEvent, from_kafka_record
from mpa_contracts.topics import DEAD_LETTER_SUFFIX

log = logging.getLogger(__name__)
tracer = trace.get_tracer("mpa.messaging")

Handler = Callable[[UnitOfWork, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class RecordOrigin:
    """Where the event being handled was read from (what the audit log records)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


class SkipReason(StrEnum):
    DUPLICATE = "duplicate"  # the event id was processed before: effects not repeated
    DEAD_LETTERED = "dead_lettered"  # invalid or failing: sent to the dead-letter topic


SkipHook = Callable[[RecordOrigin, UUID | None, SkipReason], Awaitable[None]]
"""Told of every record that produced no effects, e.g. to account for its offset."""

_current_origin: ContextVar[RecordOrigin | None] = ContextVar("mpa_record_origin", default=None)


def current_record_origin() -> RecordOrigin:
    """The Kafka origin of the record whose handler is running (like the current span)."""
    origin = _current_origin.get()
    if origin is None:
        raise RuntimeError("current_record_origin() called outside an event handler")
    return origin


Headers = list[tuple[str, bytes]]
MAX_ERROR_TEXT = 500


class EventConsumer:
    def __init__(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        processed: Table,
        bootstrap_servers: str,
        client_id: str | None = None,
        max_attempts: int = 5,
        retry_initial_seconds: float = 0.2,
        retry_max_seconds: float = 5.0,
        max_records: int = 200,
        topic_prefix: str = "",
        on_skipped: SkipHook | None = None,
    ) -> None:
        # Namespaced like the topics (KAFKA_TOPIC_PREFIX): deployments, and test runs, that
        # share a cluster never join each other's group.
        self.group_id = f"{topic_prefix}{group_id}"
        self.name = f"consumer:{self.group_id}"
        self._topics = list(topics)
        self._handler = handler
        self._sessions = sessions
        self._outbox = outbox
        self._processed = processed
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id or group_id
        self._max_attempts = max_attempts
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds
        self._max_records = max_records
        self._topic_prefix = topic_prefix
        self._on_skipped = on_skipped
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.handled = 0
        self.skipped_duplicates = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        self._stopping.clear()
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        self._dead_letters = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=f"{self._client_id}-dlq",
            enable_idempotence=True,
            acks="all",
        )
        await self._dead_letters.start()
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stops fetching, lets the record in hand finish, commits its offset, leaves the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning(
                    "consumer did not stop in time; cancelling", extra={"group": self.group_id}
                )
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
        if self._dead_letters is not None:
            await self._dead_letters.stop()

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
            except KafkaError:
                log.exception("fetch failed; retrying", extra={"group": self.group_id})
                await asyncio.sleep(1)
                continue
            for partition, records in batches.items():
                last_done: int | None = None
                for record in records:
                    if self._stopping.is_set():
                        break
                    try:
                        await self._process(record)
                    except Exception:
                        # Not even the dead-letter topic took it (broker down?): read this
                        # record again after a pause rather than lose it.
                        log.exception(
                            "record not processed; will re-read it", extra={"group": self.group_id}
                        )
                        consumer.seek(partition, record.offset)
                        await asyncio.sleep(1)
                        break
                    last_done = record.offset
                if last_done is not None:
                    await self._commit(partition, last_done + 1)
                if self._stopping.is_set():
                    break

    async def _commit(self, partition: TopicPartition, next_offset: int) -> None:
        consumer = self._consumer
        assert consumer is not None
        if partition not in consumer.assignment():
            return  # revoked meanwhile: its new owner re-reads, and skips what we did
        try:
            await consumer.commit({partition: next_offset})
        except CommitFailedError:
            # A rebalance won the race; the effects are committed in the database already.
            log.warning("offset commit lost to a rebalance", extra={"group": self.group_id})

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        headers: Headers = list(record.headers or ())
        origin = RecordOrigin(record.topic, record.partition, record.offset, record.timestamp)
        _current_origin.set(origin)
        try:
            envelope = from_kafka_record(record.key, record.value, headers)
        except InvalidEvent as invalid:
            await self._dead_letter(record, reason=invalid.reason, error=str(invalid), attempts=0)
            await self._skipped(origin, _event_id_header(headers), SkipReason.DEAD_LETTERED)
            return
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._max_attempts),
                wait=wait_exponential_jitter(
                    multiplier=self._retry_initial, max=self._retry_max, jitter=self._retry_initial
                ),
                reraise=False,
            ):
                with attempt:
                    handled = await self._handle_once(envelope)
        except RetryError as exhausted:
            error = exhausted.last_attempt.exception()
            text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
            log.error(
                "handler failed; dead-lettering",
                extra={
                    "group": self.group_id,
                    "event_id": str(envelope.id),
                    "event_type": envelope.type,
                },
            )
            await self._dead_letter(
                record, reason="handler_failed", error=text, attempts=self._max_attempts
            )
            await self._skipped(origin, envelope.id, SkipReason.DEAD_LETTERED)
            return
        if not handled:
            await self._skipped(origin, envelope.id, SkipReason.DUPLICATE)

    async def _skipped(self, origin: RecordOrigin, event_id: UUID | None, why: SkipReason) -> None:
        # Raising here re-reads the record (see _run): it is then skipped, and told, again.
        if self._on_skipped is not None:
            await self._on_skipped(origin, event_id, why)

    async def _handle_once(self, envelope: Envelope) -> bool:
        """Runs the handler once in its own transaction; False when it was a duplicate."""
        context = propagate.extract(
            {
                k: v
                for k, v in (
                    ("traceparent", envelope.traceparent),
                    ("tracestate", envelope.tracestate),
                )
                if v
            }
        )
        with tracer.start_as_current_span(
            f"process {envelope.type}",
            context=context,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.consumer.group.name": self.group_id,
                "mpa.event_id": str(envelope.id),
            },
        ):
            async with UnitOfWork(
                self._sessions,
                self._outbox,
                source=f"urn:mpa:consumer:{self.group_id}",
                topic_prefix=self._topic_prefix,
            ) as uow:
                claimed = await uow.session.execute(
                    insert(self._processed)
                    .values(consumer=self.group_id, event_id=envelope.id, event_type=envelope.type)
                    .on_conflict_do_nothing()
                    .returning(self._processed.c.event_id)
                )
                if claimed.first() is None:
                    self.skipped_duplicates += 1
                    return False
                await self._handler(uow, envelope)
                await uow.commit()
                self.handled += 1
                return True

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], *, reason: str, error: str, attempts: int
    ) -> None:
        producer = self._dead_letters
        assert producer is not None
        headers: Headers = [
            *(record.headers or ()),
            ("mpa_dlq_reason", reason.encode()),
            ("mpa_dlq_error", error.encode()),
            ("mpa_dlq_consumer", self.group_id.encode()),
            ("mpa_dlq_source_topic", record.topic.encode()),
            ("mpa_dlq_source_partition", str(record.partition).encode()),
            ("mpa_dlq_source_offset", str(record.offset).encode()),
            ("mpa_dlq_attempts", str(attempts).encode()),
            ("mpa_dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        # Waits for the broker's ack: the offset is committed only once the record is safe.
        await producer.send_and_wait(
            record.topic + DEAD_LETTER_SUFFIX, value=record.value, key=record.key, headers=headers
        )
        self.dead_lettered += 1
        log.warning(
            "record dead-lettered",
            extra={
                "group": self.group_id,
                "reason": reason,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
        )


def _event_id_header(headers: Headers) -> UUID | None:
    """The CloudEvents id of a record that did not parse, when its header is well-formed."""
    for name, value in headers:
        if name == "ce_id":
            try:
                return UUID(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
    return None
