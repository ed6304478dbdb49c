"""Use cases of the delivery log: list, inspect, re-send one."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from mpa_notification.app.commands import GetDelivery, ListDeliveries, RetryDelivery
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.ports import UowFactory
from mpa_notification.domain.errors import Conflict, InvalidRequest, NotFound
from mpa_notification.domain.models import Attempt, Delivery, DeliveryState


def encode_cursor(delivery: Delivery) -> str:
    raw = f"{delivery.created_at.isoformat()}|{delivery.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, delivery_id = raw.partition("|")
        return datetime.fromisoformat(created), uuid.UUID(delivery_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidRequest(
            "cursor is not one this service issued", field="query.cursor", reason="malformed"
        ) from error


async def list_deliveries(
    command: ListDeliveries, uow: UowFactory
) -> tuple[list[Delivery], str | None]:
    """A page, newest first, and the cursor of the next page (None on the last)."""
    after = decode_cursor(command.cursor) if command.cursor else None
    scoped = replace(command.where, partner_id=command.scope.partner_id)
    async with uow() as work:
        rows = await work.deliveries.page(scoped, after=after, limit=command.limit + 1)
    page = rows[: command.limit]
    return page, encode_cursor(page[-1]) if len(rows) > command.limit else None


async def get_delivery(command: GetDelivery, uow: UowFactory) -> tuple[Delivery, list[Attempt]]:
    async with uow() as work:
        delivery = await work.deliveries.get(
            command.delivery_id, partner_id=command.scope.partner_id
        )
        if delivery is None:
            raise NotFound("delivery")
        return delivery, await work.deliveries.attempts_of(delivery.id)


async def retry_delivery(
    command: RetryDelivery, uow: UowFactory, context: NotificationContext
) -> Delivery:
    """Sends a message again (same webhook-id) with a fresh retry schedule."""
    async with uow() as work:
        delivery = await work.deliveries.get(
            command.delivery_id, partner_id=command.scope.partner_id, lock=True
        )
        if delivery is None:
            raise NotFound("delivery")
        if delivery.state is DeliveryState.PENDING:
            raise Conflict("The delivery is already scheduled")
        if delivery.endpoint_id is not None:
            endpoint = await work.endpoints.get(delivery.endpoint_id, partner_id=None)
            if endpoint is None or not endpoint.enabled:
                raise Conflict("Its endpoint is disabled or deleted")
        rescheduled = await work.queue.reschedule(delivery.id, datetime.now(UTC))
        work.after_commit(context.wake_dispatcher)
        await work.commit()
    assert rescheduled is not None  # locked above
    return rescheduled
