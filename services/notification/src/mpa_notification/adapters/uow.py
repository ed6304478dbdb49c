"""The notification service's unit of work over PostgreSQL: its repositories, the delivery
queue and the fan-out, bound to one session and committed together."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.messaging.outbox import CommitOrder
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

SOURCE = "urn:mpa:service:notification"


class NotificationUnitOfWork(UnitOfWork):
    endpoints: SqlEndpoints
    contacts: SqlContacts
    referrals: SqlReferrals
    partners: SqlPartners
    deliveries: SqlDeliveryLog
    queue: SqlDeliveryQueue
    fan_out: FanOut

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table = outbox,
        *,
        source: str = SOURCE,
        topic_prefix: str = "",
        commit_order: CommitOrder = CommitOrder.PER_KEY,
    ) -> None:
        # The shape of UnitOfWork's, so ServiceContext.units_of_work builds it. Per-key
        # commit order: the events are keyed by partner, and only writers about the same
        # partner queue on the outbox (mpa_common.messaging.outbox.CommitOrder), so
        # recorders of several replicas and the API write side by side.
        super().__init__(
            sessions, outbox, source=source, topic_prefix=topic_prefix, commit_order=commit_order
        )

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
