"""A private playground for messaging tests: own schema in a real database, own topics.

Each test gets a fresh PostgreSQL schema (in the intake service's database, under its role)
holding the messaging tables plus an `effects` table that handlers write to, and a unique
KAFKA_TOPIC_PREFIX under which the registry's topics are created on the real broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mpa_common.db import ping
from mpa_common.kafka import operator_options
from mpa_common.messaging.consumer import ConsumerTuning, EventConsumer
from mpa_common.messaging.relay import OutboxRelay
from mpa_common.messaging.subscriptions import (
    Delivery,
    EventHandler,
    SkipHook,
    Subscription,
    handles,
)
from mpa_common.messaging.tables import NOTIFY_TRIGGER_SQL, add_messaging_tables
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from tests.conftest import service_database_url
from tests.support import eventually as eventually  # re-exported

CaseHandler = EventHandler[UnitOfWork, CaseClosedV1]


def case_event(case_id: uuid.UUID) -> Envelope:
    data = CaseClosedV1(
        case_id=case_id,
        reason=CaseClosureReason.DUPLICATE,
        actor_id="caseworker:test-harness",
        actor_role=ActorRole.CASEWORKER,
    )
    return new_envelope(data, source="urn:mpa:service:intake")


@dataclass
class Playground:
    schema: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Table
    processed: Table
    effects: Table
    topic_prefix: str
    bootstrap_servers: str
    dsn: str
    started: list[OutboxRelay | EventConsumer[UnitOfWork]] = field(default_factory=list)

    @property
    def case_topic(self) -> str:
        return f"{self.topic_prefix}mpa.case.v1"

    def relay(self, **options: object) -> OutboxRelay:
        timings: dict[str, float] = {
            "poll_interval": 0.5,
            "standby_interval": 0.2,
            "error_backoff": 0.2,
        }
        relay = OutboxRelay(
            dsn=self.dsn,
            kafka_options=operator_options(self.bootstrap_servers),
            client_id=f"relay-{self.schema}",
            lock_name=f"relay:{self.schema}",
            server_settings={"search_path": self.schema},
            **{**timings, **options},  # type: ignore[arg-type]
        )
        self.started.append(relay)
        return relay

    def consumer(
        self,
        handler: CaseHandler,
        group: str | None = None,
        *,
        on_skipped: SkipHook | None = None,
        kafka_options: Mapping[str, Any] | None = None,
        gather_ms: int = 0,
        single_lane: bool = False,
        **tuning: object,
    ) -> EventConsumer[UnitOfWork]:
        """The shared consumer on the playground's case topic, with one handler (as the
        admin principal unless `kafka_options` name another; a task per partition unless
        `single_lane`)."""
        settings: dict[str, object] = {
            "retry_initial_seconds": 0.05,
            "retry_max_seconds": 0.2,
            **tuning,
        }
        consumer: EventConsumer[UnitOfWork] = EventConsumer(
            Subscription(
                group or f"group-{self.schema}",
                handles(CaseClosedV1, handler),
                on_skipped=on_skipped,
                gather_ms=gather_ms,
                single_lane=single_lane,
            ),
            unit_of_work=self.uow,
            processed=self.processed,
            kafka_options=kafka_options or operator_options(self.bootstrap_servers),
            client_id=f"consumer-{self.schema}",
            topic_prefix=self.topic_prefix,
            tuning=ConsumerTuning(**settings),  # type: ignore[arg-type]
            database_probe=lambda: ping(self.engine),
        )
        self.started.append(consumer)
        return consumer

    def uow(self) -> UnitOfWork:
        return UnitOfWork(
            self.sessions,
            self.outbox,
            source="urn:mpa:service:test",
            topic_prefix=self.topic_prefix,
        )

    async def stage(self, *envelopes: Envelope) -> None:
        """One state change (an effects row per event) and its events, one transaction."""
        async with self.uow() as uow:
            for envelope in envelopes:
                await uow.session.execute(
                    insert(self.effects).values(
                        event_id=envelope.id, case_id=envelope.key, consumer="writer"
                    )
                )
            uow.emit_envelope(*envelopes)
            await uow.commit()

    async def effects_of(self, consumer: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(self.effects.c.event_id, self.effects.c.case_id)
                .where(self.effects.c.consumer == consumer)
                .order_by(self.effects.c.seq)
            )
            return [(row.event_id, row.case_id) for row in rows]

    async def unpublished(self) -> int:
        async with self.sessions() as session:
            return int(
                (
                    await session.execute(
                        text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    )
                ).scalar_one()
            )

    def recording_handler(self, consumer: str) -> CaseHandler:
        async def handle(uow: UnitOfWork, data: CaseClosedV1, delivery: Delivery) -> None:
            envelope = delivery.envelope
            await uow.session.execute(
                insert(self.effects).values(
                    event_id=envelope.id, case_id=envelope.key, consumer=consumer
                )
            )

        return handle


async def read_topic(
    bootstrap_servers: str, topic: str, expected: int, timeout: float = 30.0, settle: float = 1.5
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic from the start: waits for `expected`, then `settle` seconds
    more so that an unexpected extra record (a duplicate) has the chance to show up."""
    reader = AIOKafkaConsumer(
        topic, **operator_options(bootstrap_servers), auto_offset_reset="earliest", group_id=None
    )
    await reader.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < expected and loop.time() < deadline:
            for batch in (await reader.getmany(timeout_ms=300)).values():
                records.extend(batch)
        settle_until = loop.time() + settle
        while loop.time() < settle_until:
            for batch in (await reader.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await reader.stop()
    return records


async def open_playground(
    bootstrap_servers: str, dsn: str | None = None
) -> AsyncIterator[Playground]:
    """A playground in the intake database of the shared stack, or of the server at `dsn`."""
    from mpa_cli.stack.topics import ensure_topics

    dsn = dsn or service_database_url("intake")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    metadata = MetaData(schema=schema)
    add_messaging_tables(metadata)
    effects = Table(
        "effects",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("case_id", UUID(as_uuid=True), nullable=False),
        Column("consumer", String(100), nullable=False),
    )
    admin = create_async_engine(dsn)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.run_sync(metadata.create_all)
        await connection.execute(text(f"SET search_path TO {schema}"))
        for statement in NOTIFY_TRIGGER_SQL:
            await connection.execute(text(statement))
    await admin.dispose()
    # Unqualified names (what the services use) resolve to the playground's schema.
    plain = MetaData()
    outbox_plain, processed_plain = add_messaging_tables(plain)
    effects_plain = effects.to_metadata(plain, schema=None)
    engine = create_async_engine(
        dsn,
        connect_args={"server_settings": {"search_path": schema}},
    )
    topics = await ensure_topics(bootstrap_servers, prefix)
    playground = Playground(
        schema=schema,
        engine=engine,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        outbox=outbox_plain,
        processed=processed_plain,
        effects=effects_plain,
        topic_prefix=prefix,
        bootstrap_servers=bootstrap_servers,
        dsn=dsn,
    )
    try:
        yield playground
    finally:
        for worker in reversed(playground.started):
            with contextlib.suppress(Exception):  # a test may have killed it already
                await worker.stop(timeout=10)
        await engine.dispose()
        cleanup = create_async_engine(dsn)
        async with cleanup.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await cleanup.dispose()
        from aiokafka.admin import AIOKafkaAdminClient

        admin_client = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
        await admin_client.start()
        try:
            await admin_client.delete_topics(topics)
        finally:
            await admin_client.close()
