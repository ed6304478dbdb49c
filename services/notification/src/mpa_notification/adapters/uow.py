"""The notification service's unit of work over PostgreSQL: its repositories, the delivery
queue and the fan-out, bound to one session and committed together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.uow import UnitOfWork
from mpa_notification.adapters.delivery_queue import SqlDeliveryQueue
from mpa_notification.adapters.repositories import (
    SqlContacts,
    SqlDeliveryLog,
    SqlEndpoints,
    SqlPartners,
    SqlReferrals,
)
from mpa_notification.adapters.tables import outbox
from mpa_notification.app.fanout import FanOut


class NotificationUnitOfWork(UnitOfWork):
    endpoints: SqlEndpoints
    contacts: SqlContacts
    referrals: SqlReferrals
    partners: SqlPartners
    deliveries: SqlDeliveryLog
    queue: SqlDeliveryQueue
    fan_out: FanOut

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, source: str, topic_prefix: str = ""
    ) -> None:
        super().__init__(sessions, outbox, source=source, topic_prefix=topic_prefix)

    def _bind(self, session: AsyncSession) -> None:
        self.endpoints = SqlEndpoints(session)
        self.contacts = SqlContacts(session)
        self.referrals = SqlReferrals(session)
        self.partners = SqlPartners(session)
        self.deliveries = SqlDeliveryLog(session)
        self.queue = SqlDeliveryQueue(session)
        self.fan_out = FanOut()

    async def commit(self) -> None:
        # What the unit of work's handlers and use cases asked to tell, in a few statements.
        await self.fan_out.write(self)
        await super().commit()
