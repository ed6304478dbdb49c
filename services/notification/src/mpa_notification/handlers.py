"""What the notification service does on each incoming event type: its handler table.

The consumer runs these inside the unit of work that also records the event ids, several
events of a partition at a time: the deliveries they cause are created exactly once, and
written together when the batch commits (`app.fanout`).
"""

from __future__ import annotations

from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_contracts.events.base import EventData
from mpa_contracts.events.directory import DIRECTORY_EVENTS
from mpa_contracts.events.referral import REFERRAL_EVENTS
from mpa_notification.adapters.uow import NotificationUnitOfWork
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.events import on_casework_event, on_directory_event, on_referral_event
from mpa_notification.domain.routing import CASEWORK_EMAIL_EVENTS

CONSUMER_GROUP = "mpa-notification.referrals"
CASEWORK_GROUP = "mpa-notification.casework"


def subscription(context: NotificationContext) -> Subscription[NotificationUnitOfWork]:
    async def referral_event(
        uow: NotificationUnitOfWork, data: EventData, delivery: Delivery
    ) -> None:
        await on_referral_event(uow, context, delivery.envelope)

    async def directory_event(
        uow: NotificationUnitOfWork, data: EventData, delivery: Delivery
    ) -> None:
        await on_directory_event(uow, context, delivery.envelope)

    # A webhook leaves within 50 ms of its event: under load one fetch carries 50 ms of
    # referral events, not one each, fanned out in one transaction for every partition
    # (one lane: see referral's cases subscription for the price).
    return Subscription(
        CONSUMER_GROUP,
        *(handles(event_class, referral_event) for event_class in REFERRAL_EVENTS),
        *(handles(event_class, directory_event) for event_class in DIRECTORY_EVENTS),
        gather_ms=50,
        single_lane=True,
    )


def casework_subscription(context: NotificationContext) -> Subscription[NotificationUnitOfWork]:
    """Casework events that someone is e-mailed about (break-glass reads, approval
    requests, overdue follow-ups): a group of its own, so the referral fan-out never waits
    on the case and access topics."""

    async def casework_event(
        uow: NotificationUnitOfWork, data: EventData, delivery: Delivery
    ) -> None:
        await on_casework_event(uow, context, delivery.envelope)

    # Its topics carry every case's events, of which it e-mails about few: gathering
    # saves a fetch per case event, and an e-mail a quarter of a second later is no worse.
    return Subscription(
        CASEWORK_GROUP,
        *(handles(event_class, casework_event) for event_class in CASEWORK_EMAIL_EVENTS),
        gather_ms=250,
    )
