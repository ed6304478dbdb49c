"""Disabling an endpoint: the event, the partner's e-mail, and its pending messages."""

from __future__ import annotations

import uuid

from mpa_contracts.events.notification import NotificationEndpointDisabledV1
from mpa_contracts.vocabularies import EndpointDisabledReason, NotificationChannel
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.fanout import tell_about
from mpa_notification.app.ports import NotificationUow
from mpa_notification.domain.models import DisabledReason, Endpoint

# Reasons the platform decided on its own: the partner hears of them by e-mail.
_TOLD_TO_PARTNER = frozenset({DisabledReason.CONSECUTIVE_FAILURES, DisabledReason.GONE})


async def disable_endpoint(
    uow: NotificationUow,
    context: NotificationContext,
    endpoint: Endpoint,
    reason: DisabledReason,
) -> Endpoint:
    """Stops using a (locked) endpoint: its pending messages fail (recoverable later with
    `recover`), an event records it, and when the platform decided it, its contacts are told."""
    disabled = await uow.endpoints.save(endpoint.disabled(reason))
    await uow.queue.fail_pending_of(endpoint.id, "endpoint_disabled")
    event = uow.emit(
        NotificationEndpointDisabledV1(
            partner_id=endpoint.partner_id,
            channel=NotificationChannel.WEBHOOK,
            reason=EndpointDisabledReason(reason.value),
            consecutive_failures=endpoint.consecutive_failures,
            endpoint_id=endpoint.id,
        ),
        subject=f"partner/{endpoint.partner_id}",
    )
    if reason in _TOLD_TO_PARTNER:
        tell_about(
            uow,
            context,
            event,
            endpoint.partner_id,
            {
                "partner_id": str(endpoint.partner_id),
                "endpoint_id": str(endpoint.id),
                "reason": reason.value,
                "consecutive_failures": endpoint.consecutive_failures,
                "links": {
                    "endpoint": f"{context.settings.public_base_url.rstrip('/')}"
                    f"/v1/endpoints/{endpoint.id}"
                },
            },
        )
    return disabled


async def disable_partner_endpoints(
    uow: NotificationUow,
    context: NotificationContext,
    partner_id: uuid.UUID,
    reason: DisabledReason,
) -> int:
    endpoints = await uow.endpoints.enabled_of([partner_id], lock=True)
    for endpoint in endpoints:
        await disable_endpoint(uow, context, endpoint, reason)
    return len(endpoints)
