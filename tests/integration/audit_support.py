"""A private audit log for tests: own schema in the real mpa_audit database, own topics.

The schema is created by the owner role like the migrations do (tables, immutability
trigger, grants), and the service runs in it as the runtime role `mpa_audit_app`, exactly as
deployed; topics live under a unique KAFKA_TOPIC_PREFIX. Also here: an RFC 6962 reference
implementation written from the RFC's recursive definitions, independent of the service's
Merkle code, that tests check the API's proofs against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mpa_audit.adapters.log_store import LogStore
from mpa_audit.adapters.schema import provision_schema
from mpa_audit.adapters.tables import outbox
from mpa_audit.adapters.uow import AuditUnitOfWork
from mpa_audit.app.append import append_events
from mpa_audit.domain.leaf import RecordOrigin
from mpa_audit.handlers import log_subscription
from mpa_audit.main import create_app
from mpa_audit.settings import AuditSettings
from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from mpa_common.messaging.consumer import EventConsumer
from mpa_common.settings import LOCAL_POSTGRES_HOST, LOCAL_POSTGRES_PORT, RUNTIME_ROLES
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.events.base import EventData
from mpa_contracts.examples import EXAMPLES
from mpa_contracts.topics import MAIN_TOPICS, topic_for_event_type
from tests.conftest import service_database_url, service_owner_database_url
from tests.support import eventually as eventually  # re-exported

RUNTIME_ROLE = RUNTIME_ROLES["audit"]
REPOSITORY = Path(__file__).resolve().parents[2]


def runtime_engine(schema: str | None = None) -> AsyncEngine:
    """An engine as the service's runtime role, in ``schema`` when given."""
    options = {"server_settings": {"search_path": schema}} if schema else {}
    return create_async_engine(service_database_url("audit"), connect_args=options)


def uow_factory(engine: AsyncEngine) -> Callable[[], AuditUnitOfWork]:
    """The service's unit of work over ``engine`` (as its composition root builds it)."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return lambda: AuditUnitOfWork(sessions, outbox, source="urn:mpa:service:audit")


async def append(engine: AsyncEngine, envelope: Envelope, origin: RecordOrigin) -> None:
    """Append one event as the consumer would (a batch of one, its own transaction)."""
    await append_events(uow_factory(engine), [(envelope, origin)])


def log_consumer(
    engine: AsyncEngine, *, group_id: str, bootstrap_servers: str, topic_prefix: str
) -> EventConsumer[AuditUnitOfWork]:
    """The audit's log consumer wired as main.py wires it, under another consumer group."""
    units_of_work = uow_factory(engine)
    return EventConsumer(
        log_subscription(lambda uow: LogStore(uow.session), units_of_work, group=group_id),
        unit_of_work=units_of_work,
        processed=None,
        kafka_options=operator_options(bootstrap_servers),
        client_id="audit-tests",
        topic_prefix=topic_prefix,
    )


async def create_audit_schema() -> str:
    """A fresh schema holding the audit tables, protected as audit_0003 protects public."""
    schema = f"t_audit_{uuid.uuid4().hex[:10]}"
    owner = create_async_engine(service_owner_database_url("audit"))
    try:
        async with owner.begin() as connection:
            await provision_schema(connection, schema, RUNTIME_ROLE)
    finally:
        await owner.dispose()
    return schema


async def drop_audit_schema(schema: str) -> None:
    owner = create_async_engine(service_owner_database_url("audit"))
    try:
        async with owner.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        await owner.dispose()


def superuser_dsn() -> str:
    """A superuser of the audit database's server (the tamperer in these tests).

    MPA_TEST_SUPERUSER_URL names one on an external server; otherwise the local stack's
    `postgres` superuser, whose password `mpa stack up` keeps in .local/postgres.
    """
    if url := os.environ.get("MPA_TEST_SUPERUSER_URL"):
        return url.replace("postgresql+asyncpg://", "postgresql://", 1)
    password = (REPOSITORY / ".local/postgres/superuser-password").read_text().strip()
    return f"postgresql://postgres:{password}@{LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}/mpa_audit"


async def superuser_execute(schema: str, statement: str, *args: object) -> str:
    """Run one statement as a superuser (the tamperer) in ``schema``."""
    connection = await asyncpg.connect(superuser_dsn(), server_settings={"search_path": schema})
    try:
        # A superuser can also switch the immutability trigger off for its session.
        await connection.execute("SET session_replication_role = replica")
        return str(await connection.execute(statement, *args))
    finally:
        await connection.close()


def audit_settings(schema: str, prefix: str, key_file: Path) -> AuditSettings:
    return AuditSettings(
        database_schema=schema,
        signing_key_file=key_file,
        checkpoint_interval_seconds=0.5,
        **{"KAFKA_TOPIC_PREFIX": prefix},
    )


@asynccontextmanager
async def running_audit_app(settings: AuditSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The audit app in-process with its workers (consumer, checkpoints), and a client
    holding an auditor's token."""
    app = create_app(settings)
    token = mint_dev_token([Role.AUDITOR], subject="audit-tests")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://audit.test",
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            yield client


async def publish(bootstrap_servers: str, prefix: str, envelopes: list[Envelope]) -> None:
    """Publish events as the services' relays do (binary mode, idempotent producer)."""
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for envelope in envelopes:
            record = to_kafka_record(envelope)
            await producer.send_and_wait(
                prefix + record.topic, value=record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def delete_topics(bootstrap_servers: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


async def all_events(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """Every page of GET /v1/audit/events."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000, **filters}
    while True:
        response = await client.get("/v1/audit/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


# --- a scenario: every event type of the contracts, fresh ids -----------------------

# Each topic's one producer, from the registry (a new topic needs no edit here).
SOURCES = {topic.name: topic.producer for topic in MAIN_TOPICS if topic.producer is not None}


def _fresh(example: EventData, new_ids: dict[str, str]) -> EventData:
    """The example with every UUID replaced by a fresh one (the same old id, the same new)."""

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, str):
            try:
                uuid.UUID(value)
            except ValueError:
                return value
            return new_ids.setdefault(value, str(uuid.uuid4()))
        return value

    return type(example).model_validate(swap(example.model_dump(mode="json")))


def scenario() -> tuple[list[Envelope], uuid.UUID]:
    """One event of every type about one fresh case; the case's events form one story."""
    new_ids: dict[str, str] = {}
    payloads = [_fresh(example, new_ids) for example in EXAMPLES.values()]
    first = next(p for p in payloads if p.event_type == "org.mpa.case.registered.v1")
    opening = new_envelope(first, source=SOURCES["mpa.case.v1"])
    envelopes = [opening]
    for payload in payloads:
        if payload is first:
            continue
        topic = topic_for_event_type(payload.event_type).name
        story = opening if hasattr(payload, "case_id") else None
        envelopes.append(new_envelope(payload, source=SOURCES[topic], caused_by=story))
    return envelopes, opening.data.case_id  # type: ignore[attr-defined]


# --- RFC 6962 reference (section 2.1), written independently of mpa_audit_verify ----


def rfc_leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def rfc_node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return rfc_node_hash(rfc_mth(leaves[:k]), rfc_mth(leaves[k:]))


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf m."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_mth(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_mth(leaves[:k])]


def rfc_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""

    def subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [rfc_mth(d)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, d[:k], complete), rfc_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), rfc_mth(d[:k])]

    return subproof(m, leaves, True)


def canonical_leaf(logged_event: dict[str, Any]) -> bytes:
    """The leaf bytes of an API event, rebuilt from its documented encoding."""
    document = {
        "event": logged_event["event"],
        "format": "mpa-audit-leaf/1",
        "origin": logged_event["origin"],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def unb64(value: str) -> bytes:
    return base64.b64decode(value)


@dataclass
class AuditEnvironment:
    schema: str
    prefix: str
    topics: list[str]
    settings: AuditSettings
