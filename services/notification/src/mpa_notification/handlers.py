"""What the notification service does on each incoming event type.

Called by EventConsumer inside the unit of work that also records the event id, so the
deliveries an event causes are created exactly once.
"""

from __future__ import annotations

from mpa_common.messaging.consumer import Handler
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.directory import DIRECTORY_EVENTS
from mpa_contracts.events.referral import REFERRAL_EVENTS
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.notify import on_directory_event, on_referral_event

_REFERRAL_TYPES = frozenset(cls.event_type for cls in REFERRAL_EVENTS)
_DIRECTORY_TYPES = frozenset(cls.event_type for cls in DIRECTORY_EVENTS)


def event_handler(context: NotificationContext) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        if envelope.type in _REFERRAL_TYPES:
            await on_referral_event(uow, context, envelope)
        elif envelope.type in _DIRECTORY_TYPES:
            await on_directory_event(uow, context, envelope)

    return handle
