"""What the audit service does with each incoming event: every event of every type is logged,
and every offset that adds no leaf (a redelivery, a dead letter) is accounted for."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import DEAD_LETTERED, DUPLICATE, REPLAY_FOR_OTHERS, LogStore
from mpa_audit.app.append import append_event
from mpa_audit.domain.leaf import RecordOrigin
from mpa_common.messaging.subscriptions import Delivery, SkipHook, SkipReason, Subscription
from mpa_common.messaging.subscriptions import RecordOrigin as ConsumedFrom
from mpa_common.uow import UnitOfWork
from mpa_contracts.topics import MAIN_TOPICS

log = logging.getLogger(__name__)

LOG_CONSUMER_GROUP = "mpa-audit.log"


def _origin(consumed: ConsumedFrom) -> RecordOrigin:
    return RecordOrigin(consumed.topic, consumed.partition, consumed.offset)


async def log_events(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """Append the events to the log; the consumer commits them in one transaction."""
    for delivery in deliveries:
        await append_event(uow.session, delivery.envelope, _origin(delivery.origin))


def skipped_offset_recorder(sessions: async_sessionmaker[AsyncSession]) -> SkipHook:
    """Records each offset that added no leaf, so coverage shows no unexplained gap."""
    reasons = {
        SkipReason.DUPLICATE: DUPLICATE,
        SkipReason.DEAD_LETTERED: DEAD_LETTERED,
        SkipReason.REPLAY_FOR_OTHERS: REPLAY_FOR_OTHERS,
    }

    async def record(consumed: ConsumedFrom, event_id: uuid.UUID | None, why: SkipReason) -> None:
        origin = _origin(consumed)
        async with sessions() as session, session.begin():
            await LogStore(session).record_skipped(origin, event_id, reasons[why])
        log.info(
            "offset not logged",
            extra={
                "reason": why.value,
                "topic": origin.topic,
                "partition": origin.partition,
                "offset": origin.offset,
            },
        )

    return record


def log_subscription(
    sessions: async_sessionmaker[AsyncSession], *, group: str = LOG_CONSUMER_GROUP
) -> Subscription[UnitOfWork]:
    # No ledger: a leaf is unique by event id, so a redelivered event adds none (and its
    # offset is accounted as a duplicate) without a processed_events row per event.
    return Subscription(
        group,
        batch_handler=log_events,
        topics=[topic.name for topic in MAIN_TOPICS],
        ledger=False,
        on_skipped=skipped_offset_recorder(sessions),
    )
