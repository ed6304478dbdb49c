"""The audit log's consumer: the shared idempotent consumer on every main topic."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.tables import outbox, processed_events
from mpa_audit.handlers import log_event, skipped_offset_recorder
from mpa_common.messaging.consumer import EventConsumer
from mpa_common.messaging.outbox import topic_name
from mpa_contracts.topics import MAIN_TOPICS


def audit_log_consumer(
    *,
    group_id: str,
    sessions: async_sessionmaker[AsyncSession],
    bootstrap_servers: str,
    topic_prefix: str = "",
    client_id: str | None = None,
) -> EventConsumer:
    return EventConsumer(
        group_id=group_id,
        topics=[topic_name(t.name, topic_prefix) for t in MAIN_TOPICS],
        handler=log_event,
        sessions=sessions,
        outbox=outbox,
        processed=processed_events,
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        topic_prefix=topic_prefix,
        on_skipped=skipped_offset_recorder(sessions),
    )
