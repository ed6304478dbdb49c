"""Small Kafka helpers shared by services and tools (everything else is in `messaging`)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaClient

from mpa_common.settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """What every Kafka client of a service is built with (consumers, producers, admin):
    the bootstrap servers and, where the cluster wants them, the security settings."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers}


async def kafka_metadata_ok(bootstrap_servers: str, *, timeout: float = 5.0) -> None:
    """Succeeds when the cluster answers a metadata request; raises otherwise.

    This is the readiness check used by /readyz and by `mpa stack up` before anything
    depends on the broker.
    """
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout)
    finally:
        await client.close()
