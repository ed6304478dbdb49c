"""What the notification service does on each incoming event type: its handler table.

Called by EventConsumer inside the unit of work that also records the event id, so the
deliveries an event causes are created exactly once.
"""

from __future__ import annotations

from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_common.uow import UnitOfWork
from mpa_contracts.events.base import EventData
from mpa_contracts.events.directory import DIRECTORY_EVENTS
from mpa_contracts.events.referral import REFERRAL_EVENTS
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.notify import on_directory_event, on_referral_event

CONSUMER_GROUP = "mpa-notification.referrals"


def subscription(context: NotificationContext) -> Subscription[UnitOfWork]:
    async def referral_event(uow: UnitOfWork, data: EventData, delivery: Delivery) -> None:
        await on_referral_event(uow, context, delivery.envelope)

    async def directory_event(uow: UnitOfWork, data: EventData, delivery: Delivery) -> None:
        await on_directory_event(uow, context, delivery.envelope)

    return Subscription(
        CONSUMER_GROUP,
        *(handles(event_class, referral_event) for event_class in REFERRAL_EVENTS),
        *(handles(event_class, directory_event) for event_class in DIRECTORY_EVENTS),
    )
