"""Turning one notification into deliveries: one per subscribed endpoint and per address."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_common.uow import UnitOfWork
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.adapters.repositories import (
    ContactRepository,
    DeliveryRepository,
    EndpointRepository,
)
from mpa_notification.app.context import NotificationContext
from mpa_notification.domain.content import NotificationBody
from mpa_notification.domain.models import Contact, DeliveryState, KnownReferral
from mpa_notification.domain.routing import WEBHOOK_EVENT_TYPES, Audience


@dataclass(frozen=True)
class Notification:
    """One thing to tell: its body, and the ids that tie it to a referral and an event."""

    event_type: str
    body: NotificationBody
    # The partner it concerns: its endpoints and contacts are told (when subscribed or in
    # the audience), and every delivery's outcome event is keyed by it.
    partner_id: uuid.UUID | None
    referral: KnownReferral | None
    trigger_event_id: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None


async def fan_out(
    uow: UnitOfWork,
    context: NotificationContext,
    notification: Notification,
    *,
    audiences: Iterable[Audience],
    webhooks: bool,
) -> int:
    """Adds the deliveries of a notification to the unit of work; returns how many."""
    now = datetime.now(UTC)
    first_attempt_at = now + timedelta(seconds=context.schedule.first_delay())
    referral = notification.referral
    common: dict[str, Any] = {
        "event_type": notification.event_type,
        "trigger_event_id": notification.trigger_event_id,
        "correlation_id": notification.correlation_id,
        "referral_id": referral.referral_id if referral else None,
        "case_id": referral.case_id if referral else None,
        "body": notification.body,
        "state": DeliveryState.PENDING.value,
        "next_attempt_at": first_attempt_at,
    }
    rows: list[dict[str, Any]] = []
    partner_id = notification.partner_id
    if webhooks and partner_id is not None and notification.event_type in WEBHOOK_EVENT_TYPES:
        for endpoint in await EndpointRepository(uow.session).subscribed(
            partner_id, notification.event_type
        ):
            rows.append(
                {
                    **common,
                    "id": uuid.uuid4(),
                    "channel": NotificationChannel.WEBHOOK.value,
                    "audience": Audience.PARTNER.value,
                    "endpoint_id": endpoint.id,
                    "partner_id": partner_id,
                }
            )
    seen: set[str] = set()
    for audience, contact in await _addressees(uow, notification, audiences):
        if contact.email.lower() in seen:
            continue  # one mail per address, even when someone is in two audiences
        seen.add(contact.email.lower())
        rows.append(
            {
                **common,
                "id": uuid.uuid4(),
                "channel": NotificationChannel.EMAIL.value,
                "audience": audience.value,
                "email": contact.email,
                "contact_id": contact.id,
                "language": contact.language,
                "partner_id": partner_id,
            }
        )
    await DeliveryRepository(uow.session).add_many(rows)
    return len(rows)


async def _addressees(
    uow: UnitOfWork, notification: Notification, audiences: Iterable[Audience]
) -> list[tuple[Audience, Contact]]:
    contacts = ContactRepository(uow.session)
    referral = notification.referral
    found: list[tuple[Audience, Contact]] = []
    for audience in sorted(audiences):
        owner: str | None = None
        if audience is Audience.PARTNER and notification.partner_id is not None:
            owner = str(notification.partner_id)
        elif audience is Audience.REFERRER and referral is not None:
            owner = referral.referrer_actor_id
        elif audience is Audience.SUPERVISORS and referral is not None:
            owner = referral.country
        if owner is not None:
            found.extend((audience, c) for c in await contacts.find(kind=audience, owner=owner))
    return found
