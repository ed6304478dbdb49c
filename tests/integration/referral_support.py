"""A private referral service for tests: own schema in the referral database, own topics.

The real app (routes), the real workers (case consumer, timer worker, outbox relay) and the
real Kafka and PostgreSQL; only the schema and the topic prefix are the test's own, so a
`make run` on the same database and broker is never disturbed (nor disturbs the test).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    create_async_engine,
)

from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from mpa_common.messaging.relay import OutboxRelay
from mpa_common.messaging.tables import NOTIFY_TRIGGER_SQL
from mpa_common.service import BackgroundWorker, ServiceContext
from mpa_contracts.envelope import Envelope, new_envelope, to_kafka_record
from mpa_contracts.events.case import (
    CaseRegisteredV1,
    Consent,
    Location,
    Need,
    RoutingProfile,
    SafetyFlags,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    NeedCategory,
    PartnerType,
    SafeContactMethod,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.adapters.tables import metadata
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.app.common import ReferralContext
from mpa_referral.main import ReferralComposition, build_workers, create_app
from mpa_referral.settings import ReferralSettings
from tests.conftest import service_database_url
from tests.support import eventually as eventually  # re-exported

INTAKE_SOURCE = "urn:mpa:service:intake"
CASEWORKER = "caseworker:test-cw"
# ISO 3166 user-assigned codes: no real country's partners can ever match them.
_TEST_COUNTRIES = [f"Q{c}" for c in "MNOPQRSTUVWXYZ"] + [
    f"X{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
]


def token(role: Role, partner_id: uuid.UUID | None = None) -> dict[str, str]:
    minted = mint_dev_token([role], subject=f"test-{role.value}", partner_id=partner_id)
    return {"Authorization": f"Bearer {minted}"}


ADMIN = token(Role.ADMIN)
OPERATOR = token(Role.OPERATOR)
SUPERVISOR = token(Role.SUPERVISOR)


@dataclass
class ReferralService:
    """One instance of the referral service on the test's schema."""

    settings: ReferralSettings
    context: ServiceContext
    client: httpx.AsyncClient
    referral: ReferralContext  # what the app's use cases run with, for tests that call them
    composition: ReferralComposition
    workers: list[BackgroundWorker] = field(default_factory=list)

    async def stop(self) -> None:
        for worker in reversed(self.workers):
            with contextlib.suppress(Exception):
                await worker.stop()
        self.workers = []
        await self.client.aclose()
        await self.context.engine.dispose()


@dataclass
class ReferralStack:
    schema: str
    topic_prefix: str
    bootstrap_servers: str
    producer: AIOKafkaProducer
    instances: list[ReferralService] = field(default_factory=list)
    _countries: Iterator[str] = field(default_factory=lambda: iter(_TEST_COUNTRIES))

    @property
    def dsn(self) -> str:
        return service_database_url("referral")

    def new_country(self) -> str:
        """A country no other test of the module uses: routing there sees only its services."""
        return next(self._countries)

    def settings(self, **overrides: Any) -> ReferralSettings:
        base = ReferralSettings()
        return base.model_copy(
            update={
                "kafka_topic_prefix": self.topic_prefix,
                "kafka_bootstrap_servers": self.bootstrap_servers,
                "demo_directory": False,
                "timer_poll_seconds": 0.2,
                **overrides,
            }
        )

    def engine(self, schema: str | None = None) -> AsyncEngine:
        # Room for 50 routings at once (the capacity race test) on separate connections.
        return create_async_engine(
            self.dsn,
            pool_size=10,
            max_overflow=50,
            connect_args={"server_settings": {"search_path": schema or self.schema}},
        )

    async def start_instance(
        self,
        *,
        workers: bool = True,
        relay: bool = True,
        schema: str | None = None,
        **overrides: Any,
    ) -> ReferralService:
        """An instance on the stack's schema, or on another (empty) one made by
        `private_schema`, sharing the stack's topics."""
        # Room for 50 routings at once (the capacity race test) on separate connections.
        settings = self.settings(
            database_schema=schema or self.schema,
            database_pool_size=10,
            database_max_overflow=50,
            **overrides,
        )
        app = create_app(settings)
        context: ServiceContext = app.state.context
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://referral"
        )
        instance = ReferralService(
            settings, context, client, app.state.referral, app.state.referral_composition
        )
        started: list[BackgroundWorker] = []
        if relay:
            started.append(
                OutboxRelay(
                    dsn=self.dsn,
                    kafka_options=operator_options(self.bootstrap_servers),
                    client_id=f"relay-{schema or self.schema}",
                    lock_name=f"relay:{schema or self.schema}",
                    server_settings={"search_path": schema or self.schema},
                    poll_interval=0.3,
                    standby_interval=0.3,
                )
            )
        if workers:
            started.extend(build_workers(context, settings, app.state.referral_composition))
        for worker in started:
            await worker.start()
            instance.workers.append(worker)
        self.instances.append(instance)
        return instance

    def uow(self, instance: ReferralService) -> ReferralUnitOfWork:
        uow = instance.referral.units_of_work()
        assert isinstance(uow, ReferralUnitOfWork)
        return uow

    async def publish(self, *envelopes: Envelope) -> None:
        """Case events as intake publishes them, on the test's prefixed topic."""
        for envelope in envelopes:
            record = to_kafka_record(envelope)
            await self.producer.send_and_wait(
                f"{self.topic_prefix}{record.topic}",
                value=record.value,
                key=record.key,
                headers=record.headers,
            )

    async def sql(self, statement: str, schema: str | None = None, **params: Any) -> list[Any]:
        engine = self.engine(schema)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(text(statement), params)).all())
        finally:
            await engine.dispose()


async def _create_schema(schema: str) -> None:
    """A schema holding the referral service's tables, and nothing else."""
    admin_engine = create_async_engine(service_database_url("referral"))
    async with admin_engine.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET LOCAL search_path TO {schema}"))
        await connection.run_sync(
            lambda sync: metadata.create_all(
                sync.execution_options(schema_translate_map={None: schema})
            )
        )
        for statement in NOTIFY_TRIGGER_SQL:
            await connection.execute(text(statement))
    await admin_engine.dispose()


async def _drop_schema(schema: str) -> None:
    cleanup = create_async_engine(service_database_url("referral"))
    async with cleanup.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await cleanup.dispose()


@contextlib.asynccontextmanager
async def private_schema() -> AsyncIterator[str]:
    """Another empty referral schema for the duration (e.g. a directory imported afresh)."""
    schema = f"t_ref_{uuid.uuid4().hex[:10]}"
    await _create_schema(schema)
    try:
        yield schema
    finally:
        await _drop_schema(schema)


async def open_referral_stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    from aiokafka.admin import AIOKafkaAdminClient

    from mpa_cli.stack.topics import ensure_topics

    schema = f"t_ref_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    await _create_schema(schema)
    topics = await ensure_topics(bootstrap_servers, prefix)
    producer = AIOKafkaProducer(
        **operator_options(bootstrap_servers), enable_idempotence=True, acks="all"
    )
    await producer.start()
    stack = ReferralStack(schema, prefix, bootstrap_servers, producer)
    try:
        yield stack
    finally:
        for instance in stack.instances:
            await instance.stop()
        await producer.stop()
        await _drop_schema(schema)
        admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


# ---- building directory entries and case events ----------------------------------------


def partner_body(
    country: str,
    *,
    partner_type: PartnerType = PartnerType.CIVIL_SOCIETY_ORGANISATION,
    designations: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "code": f"T-{uuid.uuid4().hex[:10].upper()}",
        "name": "Test partner",
        "partner_type": partner_type.value,
        "countries": [country],
        "designations": [{"role": role, "country": country} for role in designations],
        "contacts": [{"label": "Desk", "email": "desk@partner.example"}],
    }


def service_body(country: str, category: NeedCategory, **fields: Any) -> dict[str, Any]:
    return {
        "name": f"Test {category.value}",
        "category": category.value,
        "coverage": [{"country": country}],
        "languages": ["fr"],
        **fields,
    }


async def add_partner(
    client: httpx.AsyncClient,
    country: str,
    *categories: NeedCategory,
    service_fields: dict[str, Any] | None = None,
    **partner: Any,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    response = await client.post(
        "/v1/partners", json=partner_body(country, **partner), headers=ADMIN
    )
    assert response.status_code == 201, response.text
    partner_id = uuid.UUID(response.json()["id"])
    service_ids = []
    for category in categories:
        created = await client.post(
            f"/v1/partners/{partner_id}/services",
            json=service_body(country, category, **(service_fields or {})),
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        service_ids.append(uuid.UUID(created.json()["id"]))
    return partner_id, service_ids


_references = itertools.count(1)


def registered(
    country: str,
    needs: list[tuple[NeedCategory, Urgency]],
    *,
    vulnerabilities: tuple[Vulnerability, ...] = (),
    age_band: AgeBand = AgeBand.AGE_24_26,
    consent: bool = True,
    refused_partner_ids: tuple[uuid.UUID, ...] = (),
    refused_partner_types: tuple[PartnerType, ...] = (),
) -> CaseRegisteredV1:
    return CaseRegisteredV1(
        case_id=uuid.uuid4(),
        case_reference=f"MPA-2026-{next(_references) % 1000000:06d}",
        profile=RoutingProfile(
            age_band=age_band,
            sex=Sex.FEMALE,
            nationality="NG",
            languages=("fr",),
            location=Location(country=country, admin_area=f"{country}-1"),
            vulnerabilities=vulnerabilities,
        ),
        needs=tuple(Need(need_id=uuid.uuid4(), category=c, urgency=u) for c, u in needs),
        consent=Consent(
            consent_id=uuid.uuid4(),
            scopes=(ConsentScope.REFERRAL, ConsentScope.DATA_SHARING),
            given_by=ConsentGivenBy.SELF,
            method=ConsentMethod.WRITTEN,
            refused_partner_ids=refused_partner_ids,
            refused_partner_types=refused_partner_types,
        )
        if consent
        else None,
        safety=SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.PHONE_CALL),
        actor_id=CASEWORKER,
        actor_role=ActorRole.CASEWORKER,
    )


def envelope(data: Any) -> Envelope:
    return new_envelope(data, source=INTAKE_SOURCE)


async def referrals_of(
    client: httpx.AsyncClient, case_id: uuid.UUID, expected: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The case's referrals once `expected` exist and none is still being routed."""
    found: list[dict[str, Any]] = []

    async def ready() -> bool:
        nonlocal found
        page = await client.get("/v1/referrals", params={"case_id": str(case_id)}, headers=OPERATOR)
        found = page.json()["items"]
        return len(found) >= expected and all(r["state"] != "requested" for r in found)

    await eventually(ready, timeout, what=f"{expected} referral(s) of the case")
    return found
