"""What the audit service does with each incoming event: every event of every type is logged,
and every offset that adds no leaf (a redelivery, a dead letter) is accounted for."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import DEAD_LETTERED, DUPLICATE, LogStore
from mpa_audit.app.append import append_event
from mpa_audit.domain.leaf import RecordOrigin
from mpa_common.messaging.consumer import RecordOrigin as ConsumedFrom
from mpa_common.messaging.consumer import SkipHook, SkipReason, current_record_origin
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope

log = logging.getLogger(__name__)


def _origin(consumed: ConsumedFrom) -> RecordOrigin:
    return RecordOrigin(consumed.topic, consumed.partition, consumed.offset)


async def log_event(uow: UnitOfWork, envelope: Envelope) -> None:
    """Append the event to the log; the consumer commits it with the processed-event row."""
    await append_event(uow.session, envelope, _origin(current_record_origin()))


def skipped_offset_recorder(sessions: async_sessionmaker[AsyncSession]) -> SkipHook:
    """Records each offset that added no leaf, so coverage shows no unexplained gap."""
    reasons = {SkipReason.DUPLICATE: DUPLICATE, SkipReason.DEAD_LETTERED: DEAD_LETTERED}

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
