"""Writing events in the same database transaction as the state change that caused them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry import propagate
from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.envelope import Envelope, envelope_to_json
from mpa_contracts.topics import topic_for_event_type


def with_current_trace(envelope: Envelope) -> Envelope:
    """Stamps the caller's trace context (W3C traceparent) on an envelope that has none.

    The relay copies it into the Kafka headers, so the trace of the HTTP request that wrote
    the row continues in every consumer.
    """
    if envelope.traceparent:
        return envelope
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" not in carrier:
        return envelope
    return envelope.model_copy(
        update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")}
    )


def topic_name(registry_name: str, prefix: str = "") -> str:
    """The Kafka topic for a registry topic in a deployment namespaced by KAFKA_TOPIC_PREFIX."""
    return f"{prefix}{registry_name}"


async def stage_events(
    session: AsyncSession,
    outbox: Table,
    envelopes: Sequence[Envelope],
    *,
    topic_prefix: str = "",
) -> None:
    """Adds events to the outbox inside the session's open transaction.

    Call it last, just before commit: the EXCLUSIVE lock (which readers do not wait for) makes
    concurrent writers insert and commit one after another, so `position` order is commit
    order and no relay can publish a later event of a case before an earlier one.
    """
    if not envelopes:
        return
    await session.execute(text(f"LOCK TABLE {outbox.name} IN EXCLUSIVE MODE"))
    rows = []
    for envelope in envelopes:
        traced = with_current_trace(envelope)
        rows.append(
            {
                "event_id": traced.id,
                "event_type": traced.type,
                "topic": topic_name(topic_for_event_type(traced.type).name, topic_prefix),
                "kafka_key": str(traced.key).encode(),
                # JSONB takes a document, not its text: parse once so it is stored as JSON.
                "envelope": json.loads(envelope_to_json(traced)),
            }
        )
    await session.execute(insert(outbox), rows)
