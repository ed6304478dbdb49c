"""Small Kafka helpers shared by services and tools (everything else is in `messaging`)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaClient


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
