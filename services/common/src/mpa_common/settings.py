"""Configuration shared by every service, read from the environment (pydantic-settings).

Defaults point at the local stack that `make run` / `make test` start (`mpa stack up`):
Kafka on 127.0.0.1:9092 and a private PostgreSQL cluster on 127.0.0.1:54320 with one role and
one database per service. Point a service at other servers by setting the variables below.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mpa_contracts.topics import service_source

# The local stack's ports. MPA_LOCAL_POSTGRES_PORT / MPA_LOCAL_KAFKA_PORT move it, so that
# two checkouts (or a test's private stack) can run side by side on one machine.
LOCAL_POSTGRES_HOST = "127.0.0.1"
LOCAL_POSTGRES_PORT = int(os.environ.get("MPA_LOCAL_POSTGRES_PORT") or 54320)
LOCAL_KAFKA_PORT = int(os.environ.get("MPA_LOCAL_KAFKA_PORT") or 9092)
LOCAL_KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{LOCAL_KAFKA_PORT}"

# Each service: its port and the name of its database and role on the local stack.
SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "referral": 8002,
    "notification": 8003,
    "audit": 8004,
}


# Services whose runtime role is not the schema owner: the audit service must not be able to
# alter or delete what it has logged, so it runs as a role that may only read and insert.
RUNTIME_ROLES: dict[str, str] = {"audit": "mpa_audit_app"}


def _local_url(role: str, database: str) -> str:
    # The password equals the role name: the local cluster listens on loopback only and exists
    # for development and tests; production passes <SERVICE>_DATABASE_URL.
    return (
        f"postgresql+asyncpg://{role}:{role}@{LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}/{database}"
    )


def local_service_url(service: str) -> str:
    """Where a platform service answers on this machine: its default port, or the one
    `<SERVICE>_PORT` moved it to (what `make run` and the tests' platforms honour)."""
    port = os.environ.get(f"{service.upper()}_PORT") or SERVICE_PORTS[service]
    return f"http://127.0.0.1:{port}"


def local_database_url(service: str) -> str:
    """The URL a service runs with on the local stack (its own database, its runtime role)."""
    database = f"mpa_{service}"
    return _local_url(RUNTIME_ROLES.get(service, database), database)


def local_owner_database_url(service: str) -> str:
    """The URL of the role that owns a service's schema on the local stack (migrations)."""
    database = f"mpa_{service}"
    return _local_url(database, database)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set `service_name` and an env prefix.

    Platform-wide variables (`KAFKA_BOOTSTRAP_SERVERS`, `MPA_ENV`, `LOG_LEVEL`) carry no
    service prefix; per-service ones do (`INTAKE_DATABASE_URL`, `INTAKE_PORT`, ...).
    """

    service_name: ClassVar[str] = "service"

    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias=AliasChoices("MPA_ENV")
    )
    kafka_bootstrap_servers: str = Field(
        default=LOCAL_KAFKA_BOOTSTRAP_SERVERS,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS"),
    )
    # Namespaces every topic (e.g. "staging."), so several deployments can share one cluster.
    kafka_topic_prefix: str = Field(
        default="", validation_alias=AliasChoices("KAFKA_TOPIC_PREFIX"), pattern=r"^[a-z0-9._-]*$"
    )
    # How this service authenticates to Kafka (<SERVICE>_KAFKA_SECURITY_PROTOCOL, ...). Left
    # empty on the local stack, the service uses its own principal from the stack's
    # generated credentials (`.local/kafka/credentials.json`); for another cluster set the
    # protocol, mechanism, user name and password its operator gave this service.
    kafka_security_protocol: str = Field(
        default="", pattern=r"^(|PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", pattern=r"^(SCRAM-SHA-512|SCRAM-SHA-256|PLAIN)$"
    )
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # CA bundle for SSL / SASL_SSL (empty: the system's trust store).
    kafka_ssl_cafile: str = ""
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = 0
    database_url: SecretStr = SecretStr("")
    # The schema owner's URL for migrations; defaults to database_url when that is set, or
    # to the local owner role.
    migrations_database_url: SecretStr = SecretStr("")
    # A schema of the service's own inside its database (search_path); empty = public.
    database_schema: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # Bounded so that a missing dependency answers /readyz quickly instead of hanging probes.
    readiness_timeout_seconds: float = 2.0
    # Connections kept open, and opened beyond that under load (and closed again when
    # returned). No pre-ping per checkout: a connection the server dropped fails once, the
    # pool discards every connection older than it, and the work is retried (consumers) or
    # answered 503 (HTTP). All kept, none beyond: an overflow connection lives for one
    # checkout, and each new one costs a fork, a SCRAM exchange on both sides and asyncpg's
    # type introspection (10 + 10 overflow opened ~0.1 per case under the bench's load).
    database_pool_size: int = Field(default=20, ge=1, le=200)
    database_max_overflow: int = Field(default=0, ge=0, le=200)
    # A statement that gets no answer (a hung server) fails after this long, as transient.
    database_command_timeout_seconds: float = Field(default=60.0, gt=0)
    # Consumers: records handled per transaction, and the retry backoff's ceiling.
    consumer_batch_max_records: int = Field(default=200, ge=1, le=10_000)
    consumer_retry_max_seconds: float = Field(default=10.0, gt=0)
    consumer_unexpected_attempts: int = Field(default=5, ge=1)
    # How long the broker holds an idle consumer's fetch (it answers at once when a record
    # arrives): the idle cost of each consumer to the broker, against the longest a
    # partition's next record may wait at a low rate (see ConsumerTuning).
    consumer_fetch_max_wait_ms: int = Field(default=1000, ge=10, le=30_000)
    # Allocations between two young-generation collections of Python's cycle collector
    # (Python's default is 700). A request or a batch allocates thousands of short-lived
    # objects, so at 700 a collection ran every few hundred microseconds and took 5-8% of
    # intake's and the audit's CPU under load (py-spy --native); the objects are freed by
    # reference counting anyway, and the collector only finds cycles.
    gc_young_threshold: int = Field(default=20_000, ge=100)
    # Request bodies beyond this are refused with 413 while they stream in
    # (<SERVICE>_MAX_BODY_BYTES); a route may declare its own limit, and
    # <SERVICE>_ROUTE_BODY_LIMITS='{"POST /v1/path": bytes}' overrides a route's.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    route_body_limits: dict[str, int] = Field(default_factory=dict)

    model_config = SettingsConfigDict(extra="ignore")

    def model_post_init(self, __context: object) -> None:
        if not self.port:
            self.port = SERVICE_PORTS.get(self.service_name, 8000)
        if not self.migrations_database_url.get_secret_value():
            self.migrations_database_url = (
                self.database_url
                if self.database_url.get_secret_value()
                else SecretStr(local_owner_database_url(self.service_name))
            )
        if not self.database_url.get_secret_value():
            self.database_url = SecretStr(local_database_url(self.service_name))

    @property
    def kafka_client_id(self) -> str:
        return f"mpa-{self.service_name}"

    @property
    def event_source(self) -> str:
        """The CloudEvents `source` of every event this service emits."""
        return service_source(self.service_name)


class OperatorSettings(ServiceSettings):
    """The operator's tools (`mpa dlq`, topic and ACL creation, tests): Kafka as the admin
    principal (`MPA_ADMIN_KAFKA_SASL_USERNAME`, ...; the local stack's admin by default)."""

    service_name: ClassVar[str] = "admin"

    model_config = SettingsConfigDict(env_prefix="MPA_ADMIN_", extra="ignore")
