"""Configuration shared by every service, read from the environment (pydantic-settings).

Defaults point at the local stack that `make run` / `make test` start (`mpa stack up`):
Kafka on 127.0.0.1:9092 and a private PostgreSQL cluster on 127.0.0.1:54320 with one role and
one database per service. Point a service at other servers by setting the variables below.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
LOCAL_POSTGRES_HOST = "127.0.0.1"
LOCAL_POSTGRES_PORT = 54320

# Each service: its port and the name of its database and role on the local stack.
SERVICE_PORTS: dict[str, int] = {
    "intake": 8001,
    "referral": 8002,
    "notification": 8003,
    "audit": 8004,
}


def local_database_url(service: str) -> str:
    """The URL of a service's own database on the local stack (role = database = mpa_<service>).

    The password equals the role name: the local cluster listens on loopback only and exists
    for development and tests; production passes `<SERVICE>_DATABASE_URL`.
    """
    role = f"mpa_{service}"
    return f"postgresql+asyncpg://{role}:{role}@{LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}/{role}"


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
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    host: str = "127.0.0.1"
    port: int = 0
    database_url: SecretStr = SecretStr("")
    # Bounded so that a missing dependency answers /readyz quickly instead of hanging probes.
    readiness_timeout_seconds: float = 2.0

    model_config = SettingsConfigDict(extra="ignore")

    def model_post_init(self, __context: object) -> None:
        if not self.port:
            self.port = SERVICE_PORTS.get(self.service_name, 8000)
        if not self.database_url.get_secret_value():
            self.database_url = SecretStr(local_database_url(self.service_name))

    @property
    def kafka_client_id(self) -> str:
        return f"mpa-{self.service_name}"
