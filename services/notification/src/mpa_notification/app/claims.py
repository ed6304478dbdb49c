"""Claiming due deliveries for this process's dispatcher (one short transaction)."""

from __future__ import annotations

from mpa_notification.adapters.repositories import Claimed, DeliveryRepository
from mpa_notification.app.context import NotificationContext

# Extra lease beyond the attempt's own timeout (recording the result, clock skew).
LEASE_MARGIN_SECONDS = 30.0


async def claim_due(context: NotificationContext, *, limit: int) -> list[Claimed]:
    """Up to `limit` due deliveries, within every lane's limits across all replicas."""
    settings = context.settings
    lease = (
        max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds) + LEASE_MARGIN_SECONDS
    )
    async with context.uow() as uow:
        claimed = await DeliveryRepository(uow.session).claim_due(
            limit=limit,
            endpoint_cap=settings.endpoint_max_in_flight,
            email_cap=settings.email_max_in_flight,
            lease_seconds=lease,
        )
        await uow.commit()
    return claimed
