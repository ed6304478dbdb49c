"""Fixtures for tests that talk to the real Kafka broker and PostgreSQL server.

`make test` starts both first (`mpa stack up`). These fixtures never skip: if a server is not
reachable the test fails and says so, because a green run must mean the real servers were used.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from mpa_common.kafka import operator_options
from mpa_common.settings import (
    LOCAL_KAFKA_BOOTSTRAP_SERVERS,
    local_database_url,
    local_owner_database_url,
)


@pytest.fixture(scope="session")
def bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", LOCAL_KAFKA_BOOTSTRAP_SERVERS)


def service_database_url(service: str) -> str:
    """The URL the service runs with (its runtime role)."""
    return os.environ.get(f"{service.upper()}_DATABASE_URL") or local_database_url(service)


def service_owner_database_url(service: str) -> str:
    """The URL of the role that owns the service's schema (what migrations run as)."""
    prefix = service.upper()
    return (
        os.environ.get(f"{prefix}_MIGRATIONS_DATABASE_URL")
        or os.environ.get(f"{prefix}_DATABASE_URL")
        or local_owner_database_url(service)
    )


@pytest.fixture(scope="session")
async def kafka_admin(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers), client_id="mpa-tests")
    try:
        await admin.start()
    except Exception as exc:  # fail loudly: the suite must run against the real broker
        pytest.fail(f"Kafka at {bootstrap_servers} is not reachable ({exc}); run `make test`")
    yield admin
    await admin.close()


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[TopicFactory]:
    """Creates throw-away topics with unique names and deletes them after the test."""
    created: list[str] = []

    async def create(prefix: str = "test", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        await kafka_admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
        created.append(name)
        return name

    yield create
    if created:
        await kafka_admin.delete_topics(created)
