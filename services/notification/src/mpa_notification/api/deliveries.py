"""The delivery log: `/v1/deliveries`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from mpa_common.request_types import DateTime, Text
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.api.deps import Context, PartnerScope, Uow
from mpa_notification.api.models import AttemptView, DeliveryDetail, DeliveryPage, DeliveryView
from mpa_notification.app import commands
from mpa_notification.app import deliveries as use_cases
from mpa_notification.domain.models import DeliveryFilter, DeliveryState

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get(
    "",
    response_model=DeliveryPage,
    summary="Deliveries, newest first (a partner sees only its own)",
)
async def list_deliveries(
    uow: Uow,
    scope: PartnerScope,
    endpoint_id: uuid.UUID | None = None,
    state: DeliveryState | None = None,
    event_type: Annotated[Text | None, Query(max_length=200)] = None,
    channel: NotificationChannel | None = None,
    referral_id: uuid.UUID | None = None,
    since: Annotated[DateTime | None, Query(description="Created at or after")] = None,
    until: Annotated[DateTime | None, Query(description="Created before")] = None,
    cursor: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    items, next_cursor = await use_cases.list_deliveries(
        commands.ListDeliveries(
            scope,
            DeliveryFilter(
                endpoint_id=endpoint_id,
                state=state,
                event_type=event_type,
                channel=channel,
                referral_id=referral_id,
                since=since,
                until=until,
            ),
            cursor=cursor,
            limit=limit,
        ),
        uow,
    )
    return DeliveryPage(items=[DeliveryView.of(d) for d in items], next_cursor=next_cursor)


@router.get(
    "/{delivery_id}",
    response_model=DeliveryDetail,
    summary="One delivery with every attempt (time, status code, latency, error)",
)
async def get_delivery(delivery_id: uuid.UUID, uow: Uow, scope: PartnerScope) -> DeliveryDetail:
    delivery, attempts = await use_cases.get_delivery(commands.GetDelivery(scope, delivery_id), uow)
    return DeliveryDetail(
        **DeliveryView.of(delivery).model_dump(),
        body=delivery.body,
        attempt_log=[AttemptView.of(a) for a in attempts],
    )


@router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryView,
    summary="Send one message again (same webhook-id, fresh retry schedule)",
)
async def retry_delivery(
    delivery_id: uuid.UUID, context: Context, uow: Uow, scope: PartnerScope
) -> DeliveryView:
    retried = await use_cases.retry_delivery(
        commands.RetryDelivery(scope, delivery_id), uow, context
    )
    return DeliveryView.of(retried)
