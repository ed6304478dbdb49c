"""Use cases of the delivery log: list, inspect, re-send one."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from mpa_common.problems import Problem
from mpa_notification.adapters.repositories import (
    DeliveryRepository,
    EndpointRepository,
)
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.scope import Scope, not_found
from mpa_notification.domain.models import Attempt, Delivery, DeliveryFilter, DeliveryState


def encode_cursor(delivery: Delivery) -> str:
    raw = f"{delivery.created_at.isoformat()}|{delivery.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, delivery_id = raw.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(delivery_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise Problem(
            422,
            "Invalid request",
            "cursor is not one this service issued",
            extra={"errors": [{"field": "query.cursor", "reason": "malformed"}]},
        ) from error


async def list_deliveries(
    context: NotificationContext,
    scope: Scope,
    where: DeliveryFilter,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Delivery], str | None]:
    """A page, newest first, and the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor) if cursor else None
    scoped = DeliveryFilter(**{**where.__dict__, "partner_id": scope.partner_id})
    async with context.uow() as uow:
        rows = await DeliveryRepository(uow.session).page(scoped, after=after, limit=limit + 1)
    page = rows[:limit]
    return page, encode_cursor(page[-1]) if len(rows) > limit else None


async def get_delivery(
    context: NotificationContext, scope: Scope, delivery_id: uuid.UUID
) -> tuple[Delivery, list[Attempt]]:
    async with context.uow() as uow:
        repository = DeliveryRepository(uow.session)
        delivery = await repository.get(delivery_id, partner_id=scope.partner_id)
        if delivery is None:
            raise not_found("delivery")
        return delivery, await repository.attempts_of(delivery.id)


async def retry_delivery(
    context: NotificationContext, scope: Scope, delivery_id: uuid.UUID
) -> Delivery:
    """Sends a message again (same webhook-id) with a fresh retry schedule."""
    async with context.uow() as uow:
        repository = DeliveryRepository(uow.session)
        delivery = await repository.get(delivery_id, partner_id=scope.partner_id, lock=True)
        if delivery is None:
            raise not_found("delivery")
        if delivery.state is DeliveryState.PENDING:
            raise Problem(409, "Conflict", "The delivery is already scheduled")
        if delivery.endpoint_id is not None:
            endpoint = await EndpointRepository(uow.session).get(
                delivery.endpoint_id, partner_id=None
            )
            if endpoint is None or not endpoint.enabled:
                raise Problem(409, "Conflict", "Its endpoint is disabled or deleted")
        await repository.update(
            delivery.id,
            {
                "state": DeliveryState.PENDING.value,
                "schedule_position": 0,
                "next_attempt_at": datetime.now(delivery.created_at.tzinfo),
            },
        )
        await uow.commit()
        refreshed = await repository.get(delivery.id, partner_id=None)
    assert refreshed is not None
    context.wake_dispatcher()
    return refreshed
