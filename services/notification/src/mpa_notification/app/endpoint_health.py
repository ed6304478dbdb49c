"""Disabling an endpoint: the event, the partner's e-mail, and its pending messages."""

from __future__ import annotations

import uuid

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import new_envelope
from mpa_contracts.events.notification import NotificationEndpointDisabledV1
from mpa_contracts.vocabularies import EndpointDisabledReason, NotificationChannel
from mpa_notification.adapters.repositories import DeliveryRepository, EndpointRepository
from mpa_notification.app.context import SOURCE, NotificationContext
from mpa_notification.app.fanout import Notification, fan_out
from mpa_notification.domain.content import body_for_outcome
from mpa_notification.domain.models import DisabledReason, Endpoint
from mpa_notification.domain.routing import EMAIL_AUDIENCES


async def disable_endpoint(
    uow: UnitOfWork,
    context: NotificationContext,
    endpoint: Endpoint,
    reason: DisabledReason,
) -> Endpoint:
    """Stops using a (locked) endpoint: its pending messages fail (recoverable later with
    `recover`), an event records it, and when the platform decided it, its contacts are told."""
    disabled = await EndpointRepository(uow.session).update(
        endpoint.id, {"enabled": False, "disabled_reason": reason.value}
    )
    await DeliveryRepository(uow.session).fail_pending_of_endpoint(endpoint.id, "endpoint_disabled")
    event = new_envelope(
        NotificationEndpointDisabledV1(
            partner_id=endpoint.partner_id,
            channel=NotificationChannel.WEBHOOK,
            reason=EndpointDisabledReason(reason.value),
            consecutive_failures=endpoint.consecutive_failures,
            endpoint_id=endpoint.id,
        ),
        source=SOURCE,
        subject=f"partner/{endpoint.partner_id}",
    )
    uow.emit_envelope(event)
    if reason in (DisabledReason.CONSECUTIVE_FAILURES, DisabledReason.GONE):
        event_type = NotificationEndpointDisabledV1.event_type
        body = body_for_outcome(
            event_type,
            event.time,
            {
                "partner_id": str(endpoint.partner_id),
                "endpoint_id": str(endpoint.id),
                "event_id": str(event.id),
                "reason": reason.value,
                "consecutive_failures": endpoint.consecutive_failures,
                "links": {
                    "endpoint": f"{context.settings.public_base_url.rstrip('/')}"
                    f"/v1/endpoints/{endpoint.id}"
                },
            },
        )
        created = await fan_out(
            uow,
            context,
            Notification(
                event_type,
                body,
                endpoint.partner_id,
                None,
                trigger_event_id=event.id,
                correlation_id=event.correlation_id,
            ),
            audiences=EMAIL_AUDIENCES[event_type],
            webhooks=False,
        )
        if created:
            # After the commit: woken earlier, the dispatcher would find nothing yet.
            uow.after_commit(context.wake_dispatcher)
    return disabled


async def disable_partner_endpoints(
    uow: UnitOfWork, context: NotificationContext, partner_id: uuid.UUID, reason: DisabledReason
) -> int:
    endpoints = await EndpointRepository(uow.session).enabled_of_partner(partner_id, lock=True)
    for endpoint in endpoints:
        await disable_endpoint(uow, context, endpoint, reason)
    return len(endpoints)
