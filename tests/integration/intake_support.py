"""A real intake service in the test process: its app (relay and referral consumer included)
on the real PostgreSQL and Kafka, under a unique topic prefix, plus the probes the intake
acceptance tests use: raw Kafka records, raw database rows, fictional people, tokens.

Intake asks the referral service's HTTP API at every partner read; here a stand-in of that
API (`ReferralApiStandIn`, a real HTTP server on a free loopback port) answers it. It knows
what the referral service would: every referral event a test publishes through `publish`
also moves the stand-in's referral, and a test can move one without an event (a lost
event), make the API fail, or take it down.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from mpa_contracts.envelope import Envelope, to_kafka_record
from mpa_contracts.events.referral import (
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralOnHoldV1,
    ReferralReroutedV1,
    ReferralResumedV1,
    ReferralRoutedV1,
    ReferralStartedV1,
)
from mpa_contracts.vocabularies import ReferralState
from mpa_intake.adapters.crypto import new_master_key
from mpa_intake.adapters.tables import metadata
from mpa_intake.main import create_app
from mpa_intake.settings import IntakeSettings
from tests.conftest import service_database_url
from tests.support import free_port

CASE_TOPIC = "mpa.case.v1"
NIAMEY_TEAM = "ne-niamey-cm"
NIAMEY_AGENCY = "iom-ne"
ACCESS_TOPIC = "mpa.access.v1"
REFERRAL_TOPIC = "mpa.referral.v1"


def _letters(n: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n))


@dataclass(frozen=True)
class FictionalPerson:
    """A made-up person whose name, phone and e-mail are unique to one test."""

    given_name: str
    family_name: str
    phone: str
    email: str

    @classmethod
    def new(cls) -> FictionalPerson:
        tag = _letters(8)
        digits = "".join(secrets.choice(string.digits) for _ in range(7))
        return cls(
            given_name=f"Testa{tag}",
            family_name=f"Exemplar{_letters(8)}",
            phone=f"+227 9{digits[:1]} {digits[1:3]} {digits[3:5]} {digits[5:]}",
            email=f"t.{tag}@example.org",
        )

    @property
    def needles(self) -> list[str]:
        """Strings that must never appear in plaintext outside the encrypted record."""
        return [
            self.given_name,
            self.family_name,
            self.phone,
            self.phone.replace(" ", "").removeprefix("+"),
            self.email,
        ]


def case_body(person: FictionalPerson, **changes: Any) -> dict[str, Any]:
    """A valid registration of an adult with consent to referral and data sharing."""
    body: dict[str, Any] = {
        "person": {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "date_of_birth": "1994-05-06",
            "sex": "female",
            "gender_identity": "woman",
            "nationality": "NG",
            "languages": ["ha", "en"],
            "phone": person.phone,
            "email": person.email,
        },
        "location": {"country": "NE", "admin_area": "NE-1", "place": "Transit centre, gate 2"},
        "vulnerabilities": ["trafficking_victim"],
        "needs": [
            {"category": "shelter", "urgency": "critical", "note": "Needs a bed tonight"},
            {"category": "legal_aid", "urgency": "medium", "note": "Residence papers expired"},
        ],
        "consent": {
            "given": True,
            "details": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "verbal",
                "obtained_at": "2026-01-05T10:00:00Z",
            },
        },
        "safety": {
            "do_not_contact": False,
            "safe_contact_method": "sms",
            "safe_contact_details": "Texts only, after 18:00",
        },
    }
    body.update(changes)
    return body


_STATE_AFTER: dict[type, ReferralState] = {
    ReferralRoutedV1: ReferralState.ROUTED,
    ReferralAcceptedV1: ReferralState.ACCEPTED,
    ReferralStartedV1: ReferralState.IN_PROGRESS,
    ReferralOnHoldV1: ReferralState.ON_HOLD,
    ReferralResumedV1: ReferralState.IN_PROGRESS,
    ReferralDeclinedV1: ReferralState.DECLINED,
    ReferralCompletedV1: ReferralState.COMPLETED,
    ReferralFailedV1: ReferralState.FAILED,
    ReferralCancelledV1: ReferralState.CANCELLED,
    ReferralReroutedV1: ReferralState.REQUESTED,
}


@dataclass
class ReferralApiStandIn:
    """`GET /v1/referrals?case_id=` of the referral service: a partner's token sees its own
    referrals only (as in the referral service). `status` other than 200 answers that."""

    port: int = field(default_factory=free_port)
    referrals: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    status: int = 200
    requests: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def follow(self, envelope: Envelope) -> None:
        """Moves a referral as the referral service did when it published `envelope`."""
        data: Any = envelope.data
        state = _STATE_AFTER.get(type(data))
        if state is None:
            return
        known = self.referrals.get(data.referral_id, {})
        if isinstance(data, ReferralReroutedV1):
            partner = None  # back to routing: no partner holds it
        else:
            partner = getattr(data, "partner_id", None) or known.get("partner_id")
        self.set(
            data.referral_id,
            case_id=data.case_id,
            need_id=data.need_id,
            partner_id=uuid.UUID(str(partner)) if partner else None,
            state=state,
        )

    def set(
        self,
        referral_id: uuid.UUID,
        *,
        case_id: uuid.UUID,
        need_id: uuid.UUID,
        partner_id: uuid.UUID | None,
        state: ReferralState,
    ) -> None:
        self.referrals[referral_id] = {
            "id": str(referral_id),
            "case_id": str(case_id),
            "need_id": str(need_id),
            "partner_id": str(partner_id) if partner_id else None,
            "state": state.value,
        }

    def start(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests += 1
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                token = self.headers.get("authorization", "").partition(" ")[2]
                try:
                    claims = jwt.decode(token, options={"verify_signature": False})
                except jwt.PyJWTError:
                    return self._answer(401, {"title": "Unauthorized"})
                if url.path != "/v1/referrals":
                    return self._answer(404, {"title": "Not found"})
                if stand_in.status != 200:
                    return self._answer(stand_in.status, {"title": "failing on purpose"})
                items = [
                    item
                    for item in list(stand_in.referrals.values())
                    if item["case_id"] == query.get("case_id", [""])[0]
                    and item["partner_id"] == claims.get("partner_id")
                ]
                return self._answer(200, {"items": items, "next_cursor": None})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Takes the API down: connections are refused from now on."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class IntakeUnderTest:
    app: FastAPI
    client: httpx.AsyncClient
    settings: IntakeSettings
    prefix: str
    bootstrap_servers: str
    engine: AsyncEngine
    referral_api: ReferralApiStandIn

    def auth(
        self,
        *roles: Role,
        subject: str | None = None,
        partner_id: uuid.UUID | None = None,
        team: str | None = NIAMEY_TEAM,
        agency: str | None = NIAMEY_AGENCY,
        country: str | None = "NE",
    ) -> dict[str, str]:
        """A token; staff work in one team of one agency's Niger office unless told."""
        token = mint_dev_token(
            roles,
            subject=subject or f"t-{uuid.uuid4().hex[:10]}",
            partner_id=partner_id,
            team=team,
            agency=agency,
            country=country,
        )
        return {"Authorization": f"Bearer {token}"}

    async def register(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/cases", json=body, headers=headers or self.auth(Role.OPERATOR)
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def records(
        self,
        topic: str,
        *,
        key: uuid.UUID,
        expected: int,
        event_type: str | None = None,
        timeout: float = 20.0,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_records(
            self.bootstrap_servers,
            self.topic(topic),
            key=key,
            expected=expected,
            event_type=event_type,
            timeout=timeout,
        )

    async def publish(self, *envelopes: Envelope) -> None:
        """Publishes events (e.g. the referral service's) to this stack's prefixed topics;
        the referral API stand-in follows the referral events among them."""
        for envelope in envelopes:
            self.referral_api.follow(envelope)
        producer = AIOKafkaProducer(
            **operator_options(self.bootstrap_servers), enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            for envelope in envelopes:
                record = to_kafka_record(envelope)
                await producer.send_and_wait(
                    self.topic(record.topic),
                    value=record.value,
                    key=record.key,
                    headers=record.headers,
                )
        finally:
            await producer.stop()

    async def raw_rows(self, table: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            return [dict(row) for row in result.mappings()]

    async def plaintext_hits(self, needles: Iterable[str]) -> list[str]:
        """Every table.column of the intake database in which any needle appears as plain
        text (bytea compared as bytes, everything else as its text or JSON form)."""
        needles = [n for n in needles if n]
        hits: list[str] = []
        for table in metadata.sorted_tables:
            for row in await self.raw_rows(table.name):
                for column, value in row.items():
                    if _holds_any(value, needles):
                        hits.append(f"{table.name}.{column}")
        return hits

    async def wait_until(
        self, check: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition"
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await check():
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.1)

    async def unpublished(self) -> int:
        async with self.engine.connect() as connection:
            count = await connection.execute(
                text("SELECT count(*) FROM outbox WHERE published_at IS NULL AND topic LIKE :p"),
                {"p": f"{self.prefix}%"},
            )
            return int(count.scalar_one())


async def read_records(
    bootstrap_servers: str,
    topic: str,
    *,
    key: uuid.UUID,
    expected: int,
    event_type: str | None = None,
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of `topic` keyed by `key`, from the start; waits until `expected` of them
    (of `event_type`, if given) are there, or `timeout` passes."""

    def wanted(record: ConsumerRecord[bytes, bytes]) -> bool:
        return record.key == str(key).encode() and (
            event_type is None or header(record, "ce_type") == event_type
        )

    reader = AIOKafkaConsumer(
        topic, **operator_options(bootstrap_servers), auto_offset_reset="earliest", group_id=None
    )
    await reader.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < expected and loop.time() < deadline:
            for batch in (await reader.getmany(timeout_ms=200)).values():
                found.extend(r for r in batch if wanted(r))
    finally:
        await reader.stop()
    return found


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode() if value is not None else None
    return None


def record_bytes(record: ConsumerRecord[bytes, bytes]) -> bytes:
    """Everything a record carries, raw: key, value, header names and values."""
    parts = [record.key or b"", record.value or b""]
    for name, value in record.headers or ():
        parts += [name.encode(), value or b""]
    return b"\x00".join(parts)


def _holds_any(value: object, needles: list[str]) -> bool:
    if value is None:
        return False
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return any(n.encode() in raw for n in needles)
    rendered = value if isinstance(value, str) else json.dumps(value, default=str)
    folded = rendered.casefold()
    return any(n.casefold() in folded for n in needles)


def configured_keys() -> dict[str, SecretStr]:
    """Master and matching keys configured the way production configures them."""
    return {
        "master_keys": SecretStr(new_master_key(f"test-{uuid.uuid4().hex[:6]}")),
        "matching_key": SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
    }


@asynccontextmanager
async def intake_under_test(
    bootstrap_servers: str, *, database_url: str | None = None, **settings_overrides: Any
) -> AsyncIterator[IntakeUnderTest]:
    """`database_url`: another server than the shared stack's (e.g. a private one a test
    stops); its schema must be migrated."""
    from mpa_cli.stack.topics import ensure_topics

    if database_url is not None:
        settings_overrides["database_url"] = SecretStr(database_url)

    prefix = f"t-intake-{uuid.uuid4().hex[:10]}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    referral_api = ReferralApiStandIn()
    referral_api.start()
    settings = IntakeSettings(
        KAFKA_TOPIC_PREFIX=prefix,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        referral_api_base_url=referral_api.url,
        **{**configured_keys(), **settings_overrides},
    )
    app = create_app(settings)
    engine = create_async_engine(database_url or service_database_url("intake"))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake.test"
            ) as client,
        ):
            stack = IntakeUnderTest(
                app, client, settings, prefix, bootstrap_servers, engine, referral_api
            )
            yield stack
            # Let the relay publish what the tests staged before its topics go.
            await stack.wait_until(
                lambda: _is_zero(stack.unpublished()), what="the outbox to drain"
            )
    finally:
        referral_api.stop()
        await engine.dispose()
        admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


async def _is_zero(count: Any) -> bool:
    return int(await count) == 0
