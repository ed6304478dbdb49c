"""Idempotent, batching Kafka consumers: each event's effects are committed exactly once, and
nothing is dead-lettered because a dependency was away.

One fetch loop reads every assigned partition; each partition has a task of its own that
handles its records in order (per-key order) while other partitions go on. A partition's
task takes the records it has (up to `batch_max_records`) and handles them in ONE database
transaction: one ledger insert claims their event ids in `processed_events` (an id already
there is a redelivery and is skipped), the handlers run, one commit, then one offset commit.

A subscription with `single_lane=True` (the audit) has one task for all its partitions
instead: a batch takes what is buffered across the partitions (a fair share of each first,
each partition's records in offset order, up to `batch_max_records` / `batch_max_bytes`), one
transaction handles them, then each partition's offset is noted. The rules below hold the
same; a partition revoked while the batch in hand holds its records rolls that batch back,
and the records of the partitions kept are handled again.

Failures (see `mpa_common.failures`):
* transient (database or broker away, serialization failure, deadlock, lock timeout): the
  same batch is retried with capped exponential backoff and jitter for as long as it takes;
  the partition's buffer fills and the partition is paused, so nothing more is fetched for
  it; the dependency shows as down in /readyz. Never dead-lettered.
* deterministic (undecodable record, unknown type, schema violation, forged source, or a
  handler's `EventRejected`): that record goes to `<topic>.dlq` at once with its reason.
* unexpected: the batch is split and its records handled one by one, so only the poison
  record fails; it is retried `unexpected_attempts` times — counting only attempts made
  while the database answers a probe — then dead-lettered with the error, and logged.
Offsets are committed only after the database commit (or the dead-letter topic's ack), and
only for partitions still assigned: after a rebalance the new owner re-reads and skips.

A record replayed from a dead-letter topic (`mpa dlq replay`) carries `mpa_replay_for`: only
the consumer group it names handles it; the others pass over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias, TypeVar
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.span import TraceState
from sqlalchemy import Table, text

from mpa_common.failures import (
    Failure,
    classify,
    dependency_of,
    describe,
    rejection_of,
)
from mpa_common.health import DependencyMonitor
from mpa_common.messaging.subscriptions import (
    Delivery,
    RecordOrigin,
    SkipReason,
    Subscription,
)
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import CE_HEADER_PREFIX, Envelope, InvalidEvent, from_kafka_record
from mpa_contracts.events.registry import EVENT_TYPES
from mpa_contracts.topics import DEAD_LETTER_SUFFIX, topic_by_name

log = logging.getLogger(__name__)
TRACER_NAME = "mpa.messaging"

U = TypeVar("U", bound=UnitOfWork)
Headers = list[tuple[str, bytes]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Probe = Callable[[], Awaitable[object]]

MAX_ERROR_TEXT = 500
REPLAY_FOR_HEADER = "mpa_replay_for"
REPLAYED_FROM_HEADER = "mpa_replayed_from"
FORBIDDEN_SOURCE = "forbidden_source"
HANDLER_FAILED = "handler_failed"
TYPE_HEADER = f"{CE_HEADER_PREFIX}type"


@dataclass(frozen=True)
class ConsumerTuning:
    """How a consumer batches and retries (ServiceSettings carries the service's values)."""

    batch_max_records: int = 200
    batch_max_bytes: int = 4 * 1024 * 1024
    fetch_max_records: int = 1000
    # Records buffered for one partition before it is paused (backpressure).
    buffer_max_records: int = 2000
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 10.0
    unexpected_attempts: int = 5
    # How long the broker holds a fetch that finds nothing new: what an idle consumer
    # costs the broker (aiokafka's 500 ms is two fetches a second per consumer, forever).
    # Not free for latency: while a fetch is out, a partition whose records were just
    # handed over is not in it (aiokafka fetches a partition again only once its records
    # are consumed), so at a low rate its next record can wait up to this long.
    fetch_max_wait_ms: int = 1000
    # Offsets are committed at most this often, every partition's in one request, instead
    # of one request per batch (each a write to the broker's offsets log). A crash loses
    # at most this much progress: those records are re-read and skipped by their ids.
    commit_interval_seconds: float = 0.25


class _Stopped(Exception):
    """The consumer is stopping (or the partition was revoked) while a retry waited."""


@dataclass(frozen=True)
class _Lane:
    """Who is working (one partition's task, or the single lane, named for the dependency
    monitor) and the event that tells it to give up."""

    name: str
    stop: asyncio.Event


class EventConsumer(Generic[U]):
    def __init__(
        self,
        subscription: Subscription[U],
        *,
        unit_of_work: Callable[[], U],
        processed: Table | None,
        kafka_options: Mapping[str, Any],
        client_id: str,
        topic_prefix: str = "",
        tuning: ConsumerTuning | None = None,
        monitor: DependencyMonitor | None = None,
        database_probe: Probe | None = None,
    ) -> None:
        if subscription.ledger and processed is None:
            raise ValueError("a ledger subscription needs the processed_events table")
        self.subscription = subscription
        # Namespaced like the topics (KAFKA_TOPIC_PREFIX): deployments, and test runs, that
        # share a cluster never join each other's group.
        self.group_id = f"{topic_prefix}{subscription.group}"
        self.name = f"consumer:{self.group_id}"
        self._topic_prefix = topic_prefix
        self._topics = [f"{topic_prefix}{name}" for name in subscription.topics]
        self._unit_of_work = unit_of_work
        self._processed = processed
        self._kafka_options = dict(kafka_options)
        self._client_id = client_id
        self._tuning = tuning or ConsumerTuning()
        self._monitor = monitor or DependencyMonitor()
        self._probe = database_probe
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: AIOKafkaProducer | None = None
        self._fetcher: asyncio.Task[None] | None = None
        # Each assigned partition's buffer: its own worker, or its share of the single lane.
        self._partitions: dict[TopicPartition, _PartitionWorker[U] | _Share] = {}
        self._single_lane: _SingleLane[U] | None = None
        self._commit_lock = asyncio.Lock()
        # Next offsets handled (their effects committed) but not yet committed to Kafka.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._tracer = trace.get_tracer(TRACER_NAME)
        # Counters, for tests and /readyz.
        self.handled = 0
        self.skipped_duplicates = 0
        self.dead_lettered = 0
        self.transient_retries = 0
        self.batches = 0
        self.fetches = 0  # answers from the broker that carried records
        self._gathering = False  # a gathering subscription's fetches gather now (busy)

    # ---- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()
        self._gathering = False  # a new client fetches as `_fetch_wait()` says: idle
        # Taken again now that the service has installed its tracer provider (after building
        # its consumers): the provider's own tracer, not the proxy a tracer taken before
        # then stays, whose every span costs two context managers more (~1.5 µs a record).
        self._tracer = trace.get_tracer(TRACER_NAME)
        self._dead_letters = AIOKafkaProducer(
            **self._kafka_options,
            client_id=f"{self._client_id}-dlq",
            enable_idempotence=True,
            acks="all",
        )
        self._consumer = AIOKafkaConsumer(
            **self._kafka_options,
            client_id=self._client_id,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=self._tuning.batch_max_bytes,
            **self._fetch_wait(),
        )
        self._single_lane = _SingleLane(self) if self.subscription.single_lane else None
        self._consumer.subscribe(self._topics, listener=_Rebalance(self))
        await self._dead_letters.start()
        await self._consumer.start()
        self._fetcher = asyncio.create_task(self._fetch_loop(), name=self.name)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stops fetching, lets each partition finish the batch in hand (a batch waiting on
        a dependency is abandoned: it is re-read later), commits, leaves the group."""
        self._stopping.set()
        if self._fetcher is not None:
            self._fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetcher
            self._fetcher = None
        workers: list[_PartitionWorker[U] | _SingleLane[U]] = [
            w for w in self._partitions.values() if isinstance(w, _PartitionWorker)
        ]
        if self._single_lane is not None:
            workers.append(self._single_lane)
        self._partitions.clear()
        if workers:
            finishing = {asyncio.ensure_future(w.finish()): w for w in workers}
            _, late = await asyncio.wait(finishing, timeout=timeout)
            if late:
                log.warning(
                    "consumer did not stop in time; abandoning its batches",
                    extra={"group": self.group_id, "partitions": len(late)},
                )
            for future in late:
                await finishing[future].abandon()  # rolled back; re-read by the next owner
                future.cancel()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        await self._flush_commits()  # what was handled is not re-read by the next owner
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None
        if self._dead_letters is not None:
            with contextlib.suppress(Exception):
                await self._dead_letters.stop()
            self._dead_letters = None

    def _fetch_wait(self, *, busy: bool = False) -> dict[str, int]:
        """How long the broker holds a fetch: until one record arrives; or, for a
        subscription that gathers and only while records keep coming (`busy`), until its
        time is up or a full batch is there. Idle, a gathering consumer waits like any
        other (one fetch a second, not one per `gather_ms`), and the first record after a
        pause is answered at once."""
        gather = self.subscription.gather_ms
        if not gather or not busy:
            return {"fetch_max_wait_ms": self._tuning.fetch_max_wait_ms, "fetch_min_bytes": 1}
        return {"fetch_max_wait_ms": gather, "fetch_min_bytes": self._tuning.batch_max_bytes}

    def _gather(self, consumer: AIOKafkaConsumer, *, busy: bool) -> None:
        """Switches the fetches that follow between waiting and gathering. aiokafka builds
        each fetch request from these two attributes of its fetcher (0.14: not public);
        without them the consumer simply never gathers."""
        fetcher = getattr(consumer, "_fetcher", None)
        if not self.subscription.gather_ms or busy == self._gathering or fetcher is None:
            return
        wait = self._fetch_wait(busy=busy)
        if hasattr(fetcher, "_fetch_max_wait_ms") and hasattr(fetcher, "_fetch_min_bytes"):
            fetcher._fetch_max_wait_ms = wait["fetch_max_wait_ms"]
            fetcher._fetch_min_bytes = wait["fetch_min_bytes"]
            self._gathering = busy

    @property
    def monitor(self) -> DependencyMonitor:
        return self._monitor

    @property
    def paused(self) -> list[TopicPartition]:
        return sorted(self._consumer.paused()) if self._consumer is not None else []

    # ---- fetching ---------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        backoff = self._tuning.retry_initial_seconds
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(
                    timeout_ms=500, max_records=self._tuning.fetch_max_records
                )
            except KafkaError as error:
                self._monitor.down("kafka", worker=self.name, error=error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._tuning.retry_max_seconds)
                continue
            self._monitor.up("kafka", worker=self.name)
            backoff = self._tuning.retry_initial_seconds
            if batches:
                self.fetches += 1
            # Records came: gather what follows; a getmany that found nothing for its
            # whole timeout: idle again.
            self._gather(consumer, busy=bool(batches))
            for partition, records in batches.items():
                if not records:
                    continue
                worker = self._partitions.get(partition)
                if worker is None:
                    lane = self._single_lane
                    worker = self._partitions[partition] = (
                        _PartitionWorker(self, partition) if lane is None else lane.share(partition)
                    )
                worker.add(records)
            self._apply_backpressure(consumer)

    def _apply_backpressure(self, consumer: AIOKafkaConsumer) -> None:
        limit = self._tuning.buffer_max_records
        assigned = consumer.assignment()
        paused = consumer.paused()
        for partition, worker in self._partitions.items():
            if partition not in assigned:
                continue
            if worker.buffered >= limit and partition not in paused:
                consumer.pause(partition)
            elif worker.buffered < limit // 2 and partition in paused:
                consumer.resume(partition)

    async def _abandon(self, partitions: Sequence[TopicPartition]) -> None:
        """The partitions were revoked: their workers stop now (an in-flight transaction is
        rolled back by the cancellation), or the single lane drops their records."""
        workers = [self._partitions.pop(p, None) for p in partitions]
        await asyncio.gather(*(w.abandon() for w in workers if isinstance(w, _PartitionWorker)))
        if self._single_lane is not None:
            await self._single_lane.revoke(partitions)

    # ---- one batch --------------------------------------------------------------------

    async def _process(self, records: Sequence[Record], lane: _Lane) -> None:
        """Handles a batch completely (effects, dead letters, skips)."""
        deliveries: list[Delivery] = []
        for record in records:
            delivery = await self._admit(record, lane)
            if delivery is not None:
                deliveries.append(delivery)
        if deliveries:
            await self._handle_batch(deliveries, records, lane)
        self.batches += 1

    async def _admit(self, record: Record, lane: _Lane) -> Delivery | None:
        """Parses a record; dead-letters what can never be handled; None when nothing is
        left to do for it."""
        headers: Headers = list(record.headers or ())
        origin = RecordOrigin(record.topic, record.partition, record.offset, record.timestamp)
        replay_for = _header(headers, REPLAY_FOR_HEADER)
        if replay_for is not None and replay_for != self.group_id:
            await self._skipped(
                origin, _event_id_header(headers), SkipReason.REPLAY_FOR_OTHERS, lane
            )
            return None
        if self._passes_over(headers):
            return None  # a type this consumer does not handle: not even parsed
        try:
            envelope = from_kafka_record(record.key, record.value, headers)
        except InvalidEvent as invalid:
            await self._dead_letter(record, invalid.reason, str(invalid), 0, lane)
            await self._skipped(origin, _event_id_header(headers), SkipReason.DEAD_LETTERED, lane)
            return None
        owner = self._owner_of(record.topic)
        if owner is not None and envelope.source != owner:
            await self._dead_letter(
                record,
                FORBIDDEN_SOURCE,
                f"{envelope.source} may not publish on {record.topic} (owner {owner})",
                0,
                lane,
            )
            await self._skipped(origin, envelope.id, SkipReason.DEAD_LETTERED, lane)
            return None
        if self.subscription.batch_handler is None and (
            self.subscription.entry_for(envelope.type) is None
        ):
            return None  # a type this consumer does not handle: nothing to do
        return Delivery(envelope, origin, replayed=replay_for is not None)

    def _passes_over(self, headers: Headers) -> bool:
        """A binary-mode record whose `ce_type` header names a registered event type this
        consumer has no handler for. Most records of a topic are of types a given group
        passes over, and parsing and validating each just to pass over it was most of what
        such a group spent; whether it is valid is the business of the groups that handle
        it (an unknown type is still parsed, and dead-lettered)."""
        if self.subscription.batch_handler is not None:
            return False
        declared = _header(headers, TYPE_HEADER)
        return (
            declared is not None
            and declared in EVENT_TYPES
            and self.subscription.entry_for(declared) is None
        )

    def _owner_of(self, topic: str) -> str | None:
        name = topic.removeprefix(self._topic_prefix)
        found = topic_by_name(name)
        return found.producer if found is not None else None

    async def _handle_batch(
        self, deliveries: list[Delivery], records: Sequence[Record], lane: _Lane
    ) -> None:
        try:
            await self._until_not_transient(lambda: self._transaction(deliveries, lane), lane)
            return
        except _Stopped:
            raise
        except Exception as error:
            if len(deliveries) == 1:
                await self._handle_alone(deliveries[0], records, lane, first_error=error)
                return
            log.warning(
                "batch failed; handling its records one by one",
                extra={
                    "group": self.group_id,
                    "records": len(deliveries),
                    "error": describe(error, 200),
                },
            )
        for delivery in deliveries:
            await self._handle_alone(delivery, records, lane)

    async def _handle_alone(
        self,
        delivery: Delivery,
        records: Sequence[Record],
        lane: _Lane,
        first_error: BaseException | None = None,
    ) -> None:
        attempts = 0
        error = first_error
        while True:
            if error is not None:
                if (rejection := rejection_of(error)) is not None and classify(
                    error
                ) is Failure.DETERMINISTIC:
                    await self._reject(
                        delivery, records, rejection.reason, rejection.detail, 1, lane
                    )
                    return
                if await self._database_answers():
                    attempts += 1
                    if attempts >= self._tuning.unexpected_attempts:
                        log.error(
                            "handler failed; dead-lettering",
                            extra={
                                "group": self.group_id,
                                "event_id": str(delivery.envelope.id),
                                "event_type": delivery.envelope.type,
                                "attempts": attempts,
                                "error": describe(error, 300),
                            },
                        )
                        await self._reject(
                            delivery,
                            records,
                            HANDLER_FAILED,
                            describe(error, MAX_ERROR_TEXT),
                            attempts,
                            lane,
                        )
                        return
                await self._sleep(_backoff(attempts, self._tuning), lane)
            try:
                await self._until_not_transient(lambda: self._transaction([delivery], lane), lane)
                return
            except _Stopped:
                raise
            except Exception as failed:
                error = failed

    async def _database_answers(self) -> bool:
        if self._probe is None:
            return True
        try:
            await asyncio.wait_for(self._probe(), timeout=5)
        except Exception:
            return False
        return True

    async def _reject(
        self,
        delivery: Delivery,
        records: Sequence[Record],
        reason: str,
        detail: str,
        attempts: int,
        lane: _Lane,
    ) -> None:
        origin = delivery.origin
        record = next(
            r
            for r in records
            if r.offset == origin.offset
            and r.partition == origin.partition
            and r.topic == origin.topic
        )
        await self._dead_letter(record, reason, detail, attempts, lane)
        await self._skipped(delivery.origin, delivery.envelope.id, SkipReason.DEAD_LETTERED, lane)

    async def _until_not_transient(self, work: Callable[[], Awaitable[None]], lane: _Lane) -> None:
        """Runs `work`, retrying for as long as its failures are transient."""
        attempt = 0
        while True:
            if lane.stop.is_set():
                raise _Stopped
            try:
                await work()
            except Exception as error:
                if classify(error) is not Failure.TRANSIENT:
                    raise
                attempt += 1
                self.transient_retries += 1
                self._monitor.down(dependency_of(error), worker=lane.name, error=error)
                await self._sleep(_backoff(attempt, self._tuning), lane)
                continue
            if attempt:
                self._monitor.up_everywhere(lane.name)
            return

    async def _sleep(self, seconds: float, lane: _Lane) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lane.stop.wait(), seconds)
        if lane.stop.is_set():
            raise _Stopped

    async def _transaction(self, deliveries: Sequence[Delivery], lane: _Lane) -> None:
        """One unit of work for the batch: claim the event ids, run the handlers, commit."""
        duplicates: list[Delivery] = []
        async with self._unit_of_work() as uow:
            fresh = list(deliveries)
            if self.subscription.ledger:
                fresh, duplicates = await self._claim(uow, deliveries)
            if fresh:
                batch_handler = self.subscription.batch_handler
                if batch_handler is not None:
                    with self._tracer.start_as_current_span(
                        f"process batch of {len(fresh)}",
                        kind=trace.SpanKind.CONSUMER,
                        links=[_link(d.envelope) for d in fresh[:64]],
                        attributes={"messaging.consumer.group.name": self.group_id},
                    ):
                        await batch_handler(uow, fresh)
                else:
                    for delivery in fresh:
                        await self._run_handler(uow, delivery)
            await uow.commit()
        self.handled += len(fresh)
        self.skipped_duplicates += len(duplicates)
        for duplicate in duplicates:
            await self._skipped(duplicate.origin, duplicate.envelope.id, SkipReason.DUPLICATE, lane)

    async def _claim(
        self, uow: U, deliveries: Sequence[Delivery]
    ) -> tuple[list[Delivery], list[Delivery]]:
        processed = self._processed
        assert processed is not None
        first: dict[UUID, Delivery] = {}
        repeats: list[Delivery] = []
        for delivery in deliveries:
            if delivery.envelope.id in first:
                repeats.append(delivery)  # the same event twice in one batch
            else:
                first[delivery.envelope.id] = delivery
        # From arrays, not a multi-row VALUES: one statement text for every batch size,
        # compiled once (SQLAlchemy never caches a multi-row VALUES) and prepared once.
        claimed = await uow.session.execute(
            text(
                f"INSERT INTO {processed.name} (consumer, event_id, event_type) "  # noqa: S608 - no input
                "SELECT :consumer, e.event_id, e.event_type "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) "
                "AS e(event_id, event_type) ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {
                "consumer": self.group_id,
                "ids": list(first),
                "types": [d.envelope.type for d in first.values()],
            },
        )
        new_ids = set(claimed.scalars())
        fresh = [d for d in first.values() if d.envelope.id in new_ids]
        return fresh, [*repeats, *(d for d in first.values() if d.envelope.id not in new_ids)]

    async def _run_handler(self, uow: U, delivery: Delivery) -> None:
        envelope = delivery.envelope
        entry = self.subscription.entry_for(envelope.type)
        assert entry is not None
        with self._tracer.start_as_current_span(
            f"process {envelope.type}",
            context=_context(envelope),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.consumer.group.name": self.group_id,
                "mpa.event_id": str(envelope.id),
                "mpa.replayed": delivery.replayed,
            },
        ):
            await entry.handler(uow, envelope.data, delivery)

    async def _skipped(
        self, origin: RecordOrigin, event_id: UUID | None, why: SkipReason, lane: _Lane
    ) -> None:
        hook = self.subscription.on_skipped
        if hook is None:
            return
        await self._until_not_transient(lambda: hook(origin, event_id, why), lane)

    async def _dead_letter(
        self, record: Record, reason: str, error: str, attempts: int, lane: _Lane
    ) -> None:
        producer = self._dead_letters
        assert producer is not None
        headers: Headers = [
            *(record.headers or ()),
            ("mpa_dlq_reason", reason.encode()),
            ("mpa_dlq_error", error[:MAX_ERROR_TEXT].encode()),
            ("mpa_dlq_consumer", self.group_id.encode()),
            ("mpa_dlq_source_topic", record.topic.encode()),
            ("mpa_dlq_source_partition", str(record.partition).encode()),
            ("mpa_dlq_source_offset", str(record.offset).encode()),
            ("mpa_dlq_attempts", str(attempts).encode()),
            ("mpa_dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]

        async def send() -> None:
            # Waits for the broker's ack: the offset is committed only once the record is safe.
            await producer.send_and_wait(
                record.topic + DEAD_LETTER_SUFFIX,
                value=record.value,
                key=record.key,
                headers=headers,
            )

        await self._until_not_transient(send, lane)
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

    async def _commit(self, partition: TopicPartition, next_offset: int) -> None:
        """Notes a partition's next offset once its batch's effects are committed; it is
        committed to Kafka with the others' within `commit_interval_seconds`."""
        consumer = self._consumer
        if consumer is None or partition not in consumer.assignment():
            return  # revoked meanwhile: its new owner re-reads, and skips what we did
        self._uncommitted[partition] = next_offset
        if self._tuning.commit_interval_seconds <= 0:
            await self._flush_commits()
        elif self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(
                self._commit_every_interval(), name=f"{self.name}:commit"
            )

    async def _commit_every_interval(self) -> None:
        # Until nothing is left to commit (a failed commit is tried again next interval).
        while self._uncommitted:
            await asyncio.sleep(self._tuning.commit_interval_seconds)
            await self._flush_commits()

    async def _flush_commits(self, only: Collection[TopicPartition] | None = None) -> None:
        """Commits the noted offsets of the partitions still assigned (of `only`, if given)
        in one request."""
        consumer = self._consumer
        if consumer is None:
            self._uncommitted.clear()
            return
        async with self._commit_lock:
            assigned = consumer.assignment()
            offsets: dict[TopicPartition, int] = {}
            for partition in list(self._uncommitted):
                if only is not None and partition not in only:
                    continue
                offset = self._uncommitted.pop(partition)
                if partition in assigned:
                    offsets[partition] = offset
            if not offsets:
                return
            try:
                await consumer.commit(offsets)
                self._monitor.up("kafka", worker=f"{self.name}:commit")
            except CommitFailedError:
                # A rebalance won the race; the effects are committed in the database already.
                log.info("offset commit lost to a rebalance", extra={"group": self.group_id})
            except KafkaError as error:
                # The broker is away: the effects are safe in the database; tried again next
                # interval (unless a later offset is noted meanwhile), and a redelivery
                # meanwhile is skipped by its event id.
                self._monitor.down("kafka", worker=f"{self.name}:commit", error=error)
                for partition, offset in offsets.items():
                    self._uncommitted.setdefault(partition, offset)


class _PartitionWorker(Generic[U]):
    """Handles one partition's records in order, one batch at a time."""

    def __init__(self, consumer: EventConsumer[U], partition: TopicPartition) -> None:
        self._consumer = consumer
        self.partition = partition
        self._buffer: deque[Record] = deque()
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._lane = _Lane(f"{consumer.name}[{partition.topic}:{partition.partition}]", self._stop)
        self._finishing = False
        self._task = asyncio.create_task(self._run(), name=f"{consumer.name}:{partition.partition}")

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def add(self, records: Sequence[Record]) -> None:
        self._buffer.extend(records)
        self._ready.set()

    def _take(self) -> list[Record]:
        tuning = self._consumer._tuning
        batch: list[Record] = []
        size = 0
        while self._buffer and len(batch) < tuning.batch_max_records:
            record = self._buffer[0]
            record_size = len(record.value or b"")
            if batch and size + record_size > tuning.batch_max_bytes:
                break
            batch.append(self._buffer.popleft())
            size += record_size
        return batch

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                if self._finishing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            batch = self._take()
            try:
                await self._consumer._process(batch, self._lane)
            except _Stopped:
                return  # nothing of this batch is committed past what the database holds
            except Exception:
                # Should not happen (every failure is classified above); never lose the
                # partition's worker: put the batch back and try again shortly.
                log.exception("partition worker failed; retrying the batch")
                self._buffer.extendleft(reversed(batch))
                await asyncio.sleep(1)
                continue
            await self._consumer._commit(self.partition, batch[-1].offset + 1)

    async def finish(self) -> None:
        """Stops after the batch in hand (a batch waiting on a dependency stops at once)."""
        self._finishing = True
        self._buffer.clear()
        self._ready.set()
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def abandon(self) -> None:
        """The partition was revoked: stop now; what was not committed is re-read."""
        self._buffer.clear()
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class _Share:
    """One partition's records waiting for the single lane."""

    __slots__ = ("_lane", "partition", "records")

    def __init__(self, lane: _SingleLane[Any], partition: TopicPartition) -> None:
        self._lane = lane
        self.partition = partition
        self.records: deque[Record] = deque()

    @property
    def buffered(self) -> int:
        return len(self.records)

    def add(self, records: Sequence[Record]) -> None:
        self.records.extend(records)
        self._lane.wake()


class _SingleLane(Generic[U]):
    """One task for every partition of the consumer (`Subscription.single_lane`): each batch
    takes what is buffered across the partitions into one transaction; then each partition's
    next offset is noted."""

    def __init__(self, consumer: EventConsumer[U]) -> None:
        self._consumer = consumer
        self.name = f"{consumer.name}[all partitions]"
        self._shares: dict[TopicPartition, _Share] = {}
        self._ready = asyncio.Event()
        self._lane = _Lane(self.name, asyncio.Event())
        self._task: asyncio.Task[None] | None = None
        # The batch in hand and the partitions it holds records of.
        self._in_hand: list[Record] = []
        self._in_hand_of: Collection[TopicPartition] = ()
        self._finishing = False
        self._turn = 0

    def share(self, partition: TopicPartition) -> _Share:
        share = self._shares[partition] = _Share(self, partition)
        if self._task is None or self._task.done():
            self._start()
        return share

    def wake(self) -> None:
        self._ready.set()

    def _start(self) -> None:
        self._lane = _Lane(self.name, asyncio.Event())
        self._task = asyncio.create_task(
            self._run(self._lane), name=f"{self._consumer.name}:single-lane"
        )

    def _take(self) -> tuple[list[Record], dict[TopicPartition, int]]:
        """The next batch, and each of its partitions' next offset. A fair share of each
        partition first, starting with the next partition each time, then what room is
        left: a busy partition holds the others back by one batch at most."""
        waiting = [share for share in self._shares.values() if share.records]
        batch: list[Record] = []
        ends: dict[TopicPartition, int] = {}
        if not waiting:
            return batch, ends
        turn = self._turn % len(waiting)
        self._turn += 1
        waiting = waiting[turn:] + waiting[:turn]
        tuning = self._consumer._tuning
        limit = tuning.batch_max_records
        max_bytes = tuning.batch_max_bytes
        size = 0
        for quota in (max(1, limit // len(waiting)), limit):
            for share in waiting:
                records = share.records
                taken = 0
                while records and taken < quota:
                    record = records[0]
                    record_size = len(record.value or b"")
                    if len(batch) >= limit or (batch and size + record_size > max_bytes):
                        return batch, ends
                    batch.append(records.popleft())
                    size += record_size
                    taken += 1
                    ends[share.partition] = record.offset + 1
        return batch, ends

    def _put_back(self, batch: Sequence[Record]) -> None:
        """Returns a batch's records to their partitions (those still assigned), ahead of
        what each buffered since."""
        for partition, share in self._shares.items():
            mine = [
                r
                for r in batch
                if r.partition == partition.partition and r.topic == partition.topic
            ]
            share.records.extendleft(reversed(mine))
        self._ready.set()

    async def _run(self, lane: _Lane) -> None:
        consumer = self._consumer
        while True:
            batch, ends = self._take()
            if not batch:
                if self._finishing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            self._in_hand, self._in_hand_of = batch, ends.keys()
            try:
                await consumer._process(batch, lane)
            except _Stopped:
                return  # nothing of this batch is committed past what the database holds
            except Exception:
                # Should not happen (every failure is classified); never lose the lane: put
                # the batch back and try again shortly.
                log.exception("single lane failed; retrying the batch")
                self._in_hand, self._in_hand_of = [], ()
                self._put_back(batch)
                await asyncio.sleep(1)
                continue
            self._in_hand, self._in_hand_of = [], ()
            for partition, next_offset in ends.items():
                await consumer._commit(partition, next_offset)

    async def revoke(self, partitions: Collection[TopicPartition]) -> None:
        """The partitions were revoked: their buffered records are dropped, and a batch in
        hand that holds any of theirs is rolled back (cancelled); its other records are
        handled again, first."""
        for partition in partitions:
            self._shares.pop(partition, None)
        if not any(p in self._in_hand_of for p in partitions):
            return
        in_hand, task = self._in_hand, self._task
        self._in_hand, self._in_hand_of = [], ()
        self._lane.stop.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._put_back(in_hand)
        if not self._finishing:
            self._start()

    async def finish(self) -> None:
        """Stops after the batch in hand (a batch waiting on a dependency stops at once)."""
        self._finishing = True
        for share in self._shares.values():
            share.records.clear()
        self._ready.set()
        self._lane.stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def abandon(self) -> None:
        """Stop now; what was not committed is re-read."""
        self._finishing = True
        for share in self._shares.values():
            share.records.clear()
        self._lane.stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: EventConsumer[Any]) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # The partitions' tasks never wait on the fetch loop, so waiting for them here
        # cannot deadlock; an in-flight transaction is rolled back by the cancellation.
        await self._consumer._abandon(list(revoked))
        # Still this group's member: what was handled is committed, not re-read by the next
        # owner.
        await self._consumer._flush_commits(set(revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        return None


def _backoff(attempt: int, tuning: ConsumerTuning) -> float:
    """Capped exponential backoff with full jitter in its upper half."""
    ceiling = min(
        tuning.retry_max_seconds, tuning.retry_initial_seconds * (2 ** max(attempt - 1, 0))
    )
    return random.uniform(ceiling / 2, ceiling)


def _remote_span_context(envelope: Envelope) -> trace.SpanContext:
    """The W3C trace context an event carries, as OpenTelemetry's TraceContext propagator
    extracts it (INVALID_SPAN_CONTEXT when there is none it would accept), without its
    carrier plumbing and regex: the envelope matched the traceparent against the version-00
    format on read. propagate.extract cost 3.7 µs a record, this 1 µs; the envelope carries
    W3C Trace Context only (the outbox writes nothing else), which the default propagator's
    other half (baggage) never reads."""
    traceparent = envelope.traceparent
    if not traceparent:
        return trace.INVALID_SPAN_CONTEXT
    version, trace_id, span_id, flags = traceparent.split("-")
    if trace_id == _INVALID_TRACE_ID or span_id == _INVALID_SPAN_ID or version == "ff":
        return trace.INVALID_SPAN_CONTEXT
    return trace.SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(int(flags, 16)),
        trace_state=TraceState.from_header([envelope.tracestate]) if envelope.tracestate else None,
    )


_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


def _context(envelope: Envelope) -> Context:
    """The context a handler's span continues: the event's trace, or a new one."""
    remote = _remote_span_context(envelope)
    if remote is trace.INVALID_SPAN_CONTEXT:
        return Context()
    return trace.set_span_in_context(trace.NonRecordingSpan(remote), Context())


def _link(envelope: Envelope) -> trace.Link:
    return trace.Link(_remote_span_context(envelope))


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            try:
                return value.decode()
            except UnicodeDecodeError:
                return None
    return None


def _event_id_header(headers: Headers) -> UUID | None:
    """The CloudEvents id of a record that did not parse, when its header is well-formed."""
    value = _header(headers, "ce_id")
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None
