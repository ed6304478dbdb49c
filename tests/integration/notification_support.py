"""A private playground for notification tests: the service's tables in a private schema of
its real database, private Kafka topics, a real HTTP receiver and a real SMTP server."""

from __future__ import annotations

import contextlib
import email
import email.policy
import ipaddress
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from mpa_common.messaging.tables import NOTIFY_TRIGGER_SQL
from mpa_contracts.envelope import Envelope, from_kafka_record, to_kafka_record
from mpa_notification.adapters.tables import metadata
from mpa_notification.adapters.webhooks import Resolver, system_resolver
from mpa_notification.domain.url_policy import IPAddress
from mpa_notification.main import create_app
from mpa_notification.settings import NotificationSettings
from tests.conftest import service_database_url
from tests.support import eventually as eventually  # re-exported
from tests.support import free_port as free_port

# A fake person whose details must never appear in any webhook, e-mail or event. They are
# put only into decoy fields of the test (nothing the platform's events can carry).
DECOY_NAME = "Amina Decoyperson"
DECOY_PHONE = "+227 90 12 34 56"
DECOY_EMAIL = "amina.decoy@example.org"
DECOYS = (DECOY_NAME, DECOY_PHONE, DECOY_EMAIL, "90 12 34 56", "Decoyperson")


# --- a real HTTP receiver ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Responder = Callable[[int, Received], tuple[int, dict[str, str], float]]


def always(status: int = 204) -> Responder:
    return lambda _n, _r: (status, {}, 0.0)


def sequence(*answers: tuple[int, dict[str, str]], then: int = 204) -> Responder:
    """Answers the n-th request with answers[n], later ones with `then`."""
    return lambda n, _r: (*answers[n], 0.0) if n < len(answers) else (then, {}, 0.0)


class WebhookReceiver:
    """An http.server in a thread; `responder(n, request)` -> (status, headers, delay).

    Listens on `host` (any loopback address) and `port` (a free one unless given); counts
    the requests it is answering at once (`most_at_once`).
    """

    def __init__(
        self, responder: Responder | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.responder = responder or always()
        self.received: list[Received] = []
        self.most_at_once = 0
        self._at_once = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.monotonic(),
                )
                with receiver._lock:
                    number = len(receiver.received)
                    receiver.received.append(request)
                    receiver._at_once += 1
                    receiver.most_at_once = max(receiver.most_at_once, receiver._at_once)
                status, headers, delay = receiver.responder(number, request)
                if delay:
                    time.sleep(delay)
                with receiver._lock:
                    receiver._at_once -= 1
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.host = host
        self.port = port or free_port()
        self._server = ThreadingHTTPServer((host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def for_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- a real SMTP server ----------------------------------------------------------------------


class _Collect:
    def __init__(self, into: list[EmailMessage]) -> None:
        self._into = into

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._into.append(message)
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, list[EmailMessage]]]:
    messages: list[EmailMessage] = []
    port = free_port()
    controller = Controller(_Collect(messages), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, messages
    finally:
        controller.stop()


def mails_to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"] == address]


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    return str(plain.get_content()), str(html.get_content())


# --- the service on private tables and topics -------------------------------------------------


@dataclass
class Playground:
    schema: str
    database_url: str
    topic_prefix: str
    bootstrap_servers: str
    smtp_port: int
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, **overrides: Any) -> NotificationSettings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "database_schema": self.schema,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "retry_schedule_seconds": (0, 0.3, 0.3, 0.3),
            "retry_jitter_ratio": 0.0,
            "webhook_allowed_networks": ("127.0.0.1/32",),
            "webhook_timeout_seconds": 3.0,
            "smtp_port": self.smtp_port,
            "smtp_timeout_seconds": 3.0,
            "dispatch_poll_seconds": 0.1,
            **self.settings_overrides,
            **overrides,
        }
        return NotificationSettings(**values)

    def environment(self, **overrides: str) -> dict[str, str]:
        """The same configuration as environment variables, for a service subprocess."""
        return {
            "NOTIFICATION_DATABASE_URL": self.database_url,
            "NOTIFICATION_DATABASE_SCHEMA": self.schema,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "NOTIFICATION_RETRY_SCHEDULE_SECONDS": "[0, 0.3, 0.3, 0.3]",
            "NOTIFICATION_RETRY_JITTER_RATIO": "0",
            "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
            "NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS": "3",
            "NOTIFICATION_SMTP_PORT": str(self.smtp_port),
            "NOTIFICATION_SMTP_TIMEOUT_SECONDS": "3",
            "NOTIFICATION_DISPATCH_POLL_SECONDS": "0.1",
            **overrides,
        }

    async def publish(self, *envelopes: Envelope) -> None:
        producer = AIOKafkaProducer(
            **operator_options(self.bootstrap_servers), enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            for envelope in envelopes:
                record = to_kafka_record(envelope)
                await producer.send_and_wait(
                    self.topic_prefix + record.topic,
                    value=record.value,
                    key=record.key,
                    headers=record.headers,
                )
        finally:
            await producer.stop()

    async def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_async_engine(
            self.database_url, connect_args={"server_settings": {"search_path": self.schema}}
        )
        try:
            async with engine.connect() as connection:
                return list(await connection.execute(text(sql), params))
        finally:
            await engine.dispose()


async def open_playground(
    bootstrap_servers: str, smtp_port: int, *, database_url: str | None = None
) -> AsyncIterator[Playground]:
    """`database_url`: another server's notification database (a test's own PostgreSQL)."""
    from mpa_cli.stack.topics import ensure_topics

    schema = f"n_{uuid.uuid4().hex[:10]}"
    url = database_url or service_database_url("notification")
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
        for statement in NOTIFY_TRIGGER_SQL:
            await connection.execute(text(statement))
    await admin.dispose()
    prefix = f"{schema}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    try:
        yield Playground(
            schema=schema,
            database_url=url,
            topic_prefix=prefix,
            bootstrap_servers=bootstrap_servers,
            smtp_port=smtp_port,
        )
    finally:
        cleanup = create_async_engine(url)
        async with cleanup.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await cleanup.dispose()
        kafka = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
        await kafka.start()
        try:
            await kafka.delete_topics(topics)
        finally:
            await kafka.close()


class ScriptedResolver:
    """A DNS the test controls: names answer what `answers` says now (rebinding at will)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[IPAddress]] = {}
        self.asked: list[str] = []

    def point(self, name: str, *addresses: str) -> None:
        self.answers[name] = [ipaddress.ip_address(a) for a in addresses]

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return list(self.answers[host])


@contextlib.asynccontextmanager
async def running_service(
    settings: NotificationSettings, *, resolver: Resolver = system_resolver
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The service in this process, its workers running, and an HTTP client for its API."""
    app = create_app(settings, resolver=resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notification") as client:
            yield app, client


async def notification_records(
    playground: Playground,
    wanted: Callable[[ConsumerRecord[bytes, bytes], Envelope], bool],
    *,
    expected: int,
    timeout: float = 20.0,
) -> list[tuple[ConsumerRecord[bytes, bytes], Envelope]]:
    """Records of the private `mpa.notification.v1` topic, from the start, that `wanted`
    accepts; waits until `expected` of them are there, or `timeout` passes."""
    reader = AIOKafkaConsumer(
        playground.topic_prefix + "mpa.notification.v1",
        **operator_options(playground.bootstrap_servers),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    found: list[tuple[ConsumerRecord[bytes, bytes], Envelope]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            for batch in (await reader.getmany(timeout_ms=200)).values():
                for record in batch:
                    envelope = from_kafka_record(record.key, record.value, record.headers)
                    if wanted(record, envelope):
                        found.append((record, envelope))
    finally:
        await reader.stop()
    return found


def bearer(*roles: Role, partner_id: uuid.UUID | None = None, **claims: Any) -> dict[str, str]:
    token = mint_dev_token(roles, partner_id=partner_id, **claims)
    return {"authorization": f"Bearer {token}"}
