"""Publishes committed outbox rows to Kafka, in commit order, from one leader per service.

Leadership is a PostgreSQL session-level advisory lock held on the relay's own connection:
a second replica's relay waits on standby and takes over when the leader's connection closes
(crash, shutdown, network loss). The leader wakes on NOTIFY and polls as well, because a
notification sent while it was disconnected is never replayed.

Delivery is at least once: a crash between Kafka's acknowledgement and the mark-sent update
republishes those rows, and consumers skip the duplicates by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from mpa_common.failures import dependency_of, is_transient
from mpa_common.health import DependencyMonitor
from mpa_common.messaging.tables import OUTBOX_CHANNEL
from mpa_contracts.envelope import kafka_record_from_json

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], AIOKafkaProducer]


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# Batches sent and not yet acknowledged, at most: enough to keep sending while the broker
# answers, few enough that a restart republishes little.
_MAX_BATCHES_IN_FLIGHT = 4

# One round trip per batch: marks the acknowledged rows ($1) sent and reads the next rows
# to send, in position order, leaving out those in flight ($2). The SELECT sees the rows as
# before the UPDATE (one snapshot), hence it leaves out $1 too.
_MARK_AND_READ = """
WITH marked AS (
    UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])
)
SELECT position, topic, envelope FROM outbox
WHERE published_at IS NULL
  AND position <> ALL($1::bigint[]) AND position <> ALL($2::bigint[])
ORDER BY position
LIMIT $3
"""


# The relay's statements find their rows through an index (the primary key, the unsent
# rows' partial index, `published_at`) however young the outbox. Each is prepared once per
# connection, and PostgreSQL keeps the generic plan it made from the statistics of that
# moment: made while the outbox was near empty, a sequential scan, kept as it grew (the
# bench saw 4,300 rows read to mark 20, on every batch, minutes after the start).
RELAY_SERVER_SETTINGS = {"enable_seqscan": "off"}


@dataclass(frozen=True, slots=True)
class _SentBatch:
    """Rows handed to the producer, and the future of all their acknowledgements."""

    positions: list[int]
    acks: asyncio.Future[list[Any]]


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Marks an abandoned batch's outcome as seen (no "exception never retrieved")."""
    if not future.cancelled():
        future.exception()


class OutboxRelay:
    name = "outbox-relay"

    def __init__(
        self,
        *,
        dsn: str,
        bootstrap_servers: str = "",
        client_id: str,
        kafka_options: Mapping[str, object] | None = None,
        monitor: DependencyMonitor | None = None,
        lock_name: str = "mpa-outbox-relay",
        server_settings: Mapping[str, str] | None = None,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        # How long acknowledged rows may stay unmarked, waiting to be marked by the next
        # read instead of a statement of their own. A crash republishes them (at least
        # once, as before; consumers skip them by event id).
        mark_delay: float = 0.5,
        standby_interval: float = 2.0,
        error_backoff: float = 0.5,
        max_error_backoff: float = 10.0,
        producer_factory: ProducerFactory | None = None,
        retain_published: timedelta = timedelta(days=7),
        retain_processed: timedelta = timedelta(days=120),
        purge_interval: float = 600.0,
    ) -> None:
        self._dsn = asyncpg_dsn(dsn)
        self._kafka_options = dict(kafka_options or {"bootstrap_servers": bootstrap_servers})
        self._monitor = monitor or DependencyMonitor()
        self._client_id = client_id
        self._lock_key = advisory_lock_key(lock_name)
        self._server_settings = dict(server_settings or {})
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._mark_delay = mark_delay
        self._standby_interval = standby_interval
        self._error_backoff = error_backoff
        self._max_error_backoff = max_error_backoff
        self._producer_factory = producer_factory or self._default_producer
        # Published rows are kept a week for inspection. The consumers' ledger must outlive
        # the topics' retention (90 days), or a replayed old event would run a second time.
        self._retain_published = retain_published
        self._retain_processed = retain_processed
        self._purge_interval = purge_interval
        self._next_purge = 0.0
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.is_leader = False
        self._led_before = False
        self.published_total = 0
        self.reads = 0  # statements that marked and read outbox rows
        # Test seam: runs after Kafka acknowledged a batch and before it is marked sent.
        self.after_publish: Callable[[list[int]], Awaitable[None]] | None = None

    def _default_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **self._kafka_options,
            client_id=self._client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
        )

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"{self._client_id}-outbox-relay")

    async def stop(self, timeout: float = 15.0) -> None:
        """Publishes what is committed already, then releases leadership."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("outbox relay did not stop in time; cancelling")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = self._error_backoff
        while not self._stopping.is_set():
            try:
                await self._lead_when_elected()
                backoff = self._error_backoff
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Broker or database trouble: drop connection and producer (a fresh idempotent
                # producer also clears a stuck sequence, aiokafka #1017), then try again. The
                # rows stay in the outbox meanwhile: published once the dependency is back.
                if is_transient(error):
                    self._monitor.down(dependency_of(error), worker=self.name, error=error)
                else:
                    log.exception(
                        "outbox relay failed; restarting", extra={"relay": self._client_id}
                    )
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_error_backoff)

    async def _lead_when_elected(self) -> None:
        connection = await asyncpg.connect(
            self._dsn, server_settings={**RELAY_SERVER_SETTINGS, **self._server_settings}
        )
        try:
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                self._monitor.up_everywhere(self.name)  # a healthy standby
                if await self._sleep(self._standby_interval):
                    return
            self.is_leader = True
            # Once per process: after an outage the relay re-elects itself on every retry.
            (log.debug if self._led_before else log.info)(
                "outbox relay is the leader", extra={"relay": self._client_id}
            )
            self._led_before = True
            await connection.add_listener(OUTBOX_CHANNEL, self._on_notify)
            producer = self._producer_factory()
            await producer.start()
            try:
                await self._publish_until_stopped(connection, producer)
            finally:
                # Bounded: a producer whose broker is gone may wait long on its queue.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 10)
        finally:
            self.is_leader = False
            # Closing the session releases the advisory lock for a standby relay (the server
            # also releases it when a dropped connection's session ends).
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _publish_until_stopped(
        self, connection: asyncpg.Connection, producer: AIOKafkaProducer
    ) -> None:
        """Sends each batch without waiting for the previous one's acknowledgements: rows
        committed meanwhile go out at once instead of after the broker's round trip (and
        after this process's event loop came round to it), which was most of the relay's
        part of the latency. Batches are enqueued in position order, and per partition the
        idempotent producer keeps that order, so pipelining changes no order. A batch is
        marked sent (in the next statement that reads rows) once Kafka acknowledged it;
        a failed acknowledgement restarts the relay, which sends every unmarked row again
        (at least once, as after a crash)."""
        in_flight: deque[_SentBatch] = deque()
        try:
            await self._pipeline(connection, producer, in_flight)
        finally:
            for sent in in_flight:  # abandoned on failure or cancellation: re-sent later
                sent.acks.add_done_callback(_retrieve)

    async def _pipeline(
        self,
        connection: asyncpg.Connection,
        producer: AIOKafkaProducer,
        in_flight: deque[_SentBatch],
    ) -> None:
        loop = asyncio.get_running_loop()
        acknowledged: list[int] = []
        # When the acknowledged rows must be marked sent at the latest. Until then they
        # wait for the next read (a NOTIFY, a poll, a full batch's follow-up), which marks
        # them in its own round trip: an acknowledgement alone sends no statement.
        mark_by = math.inf
        read = True  # the first pass reads
        while True:
            read = read or self._wake.is_set()
            self._wake.clear()
            await self._purge_if_due(connection)
            while in_flight and in_flight[0].acks.done():
                sent = in_flight.popleft()
                sent.acks.result()  # a failed send raises: restart, republish the unmarked
                if self.after_publish is not None:
                    await self.after_publish(sent.positions)
                acknowledged.extend(sent.positions)
                mark_by = min(mark_by, loop.time() + self._mark_delay)
                self.published_total += len(sent.positions)
            stopping = self._stopping.is_set()
            if read or stopping or loop.time() >= mark_by:
                room = len(in_flight) < _MAX_BATCHES_IN_FLIGHT
                rows = await connection.fetch(
                    _MARK_AND_READ,
                    acknowledged,
                    [position for sent in in_flight for position in sent.positions],
                    self._batch_size if room else 0,
                )
                acknowledged, mark_by, read = [], math.inf, False
                self.reads += 1
                if rows:
                    in_flight.append(await self._send(producer, rows))
                    self._monitor.up_everywhere(self.name)
                    if len(rows) == self._batch_size and len(in_flight) < _MAX_BATCHES_IN_FLIGHT:
                        read = True
                        continue  # more may be waiting
                elif not in_flight:
                    self._monitor.up_everywhere(self.name)
                    if stopping:
                        return  # flushed: everything committed before stop() is out and marked
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait())]
            if in_flight:
                waits.append(in_flight[0].acks)
            timeout = min(self._poll_interval, max(0.0, mark_by - loop.time()))
            try:
                done, _ = await asyncio.wait(
                    waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waits[0].cancel()
            if not done and loop.time() < mark_by:
                read = True  # the poll: a NOTIFY sent while disconnected is never replayed

    async def _send(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> _SentBatch:
        deliveries = []
        for row in rows:
            # The row was validated when it was written: no pydantic pass to re-produce it.
            record = kafka_record_from_json(row["envelope"])
            # send() only enqueues; per partition the idempotent producer keeps this order.
            deliveries.append(
                await producer.send(
                    row["topic"], value=record.value, key=record.key, headers=record.headers
                )
            )
        return _SentBatch([row["position"] for row in rows], asyncio.gather(*deliveries))

    async def _purge_if_due(self, connection: asyncpg.Connection) -> None:
        """Deletes old published outbox rows and old ledger entries (the leader only)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_purge:
            return
        self._next_purge = now + self._purge_interval
        try:
            outbox = await connection.execute(
                "DELETE FROM outbox WHERE published_at < now() - $1::interval",
                self._retain_published,
            )
            ledger = await connection.execute(
                "DELETE FROM processed_events WHERE processed_at < now() - $1::interval",
                self._retain_processed,
            )
        except asyncpg.InsufficientPrivilegeError:
            log.warning(
                "outbox purge not permitted for this role", extra={"relay": self._client_id}
            )
            return
        log.info(
            "purged old messaging rows",
            extra={"relay": self._client_id, "outbox": outbox, "processed_events": ledger},
        )

    async def _sleep(self, seconds: float) -> bool:
        """Sleeps unless stopped first; returns True when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()
