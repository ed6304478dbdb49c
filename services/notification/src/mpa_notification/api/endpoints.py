"""Webhook endpoints: `/v1/endpoints` and the catalogue `/v1/event-types`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mpa_common.auth import CurrentPrincipal
from mpa_common.problems import Problem
from mpa_common.request_types import DateTime
from mpa_contracts.envelope import dataschema_for
from mpa_notification.api.deps import Context, PartnerScope, Uow
from mpa_notification.api.models import (
    EndpointCreate,
    EndpointCreated,
    EndpointUpdate,
    EndpointView,
    EventTypeView,
    Recovered,
    RotateSecret,
    SecretRotated,
    TestQueued,
)
from mpa_notification.app import commands
from mpa_notification.app import endpoints as use_cases
from mpa_notification.domain.routing import WEBHOOK_EVENT_TYPES

router = APIRouter(prefix="/v1", tags=["endpoints"])

DELIVERY_NOTES = """
Deliveries follow the [Standard Webhooks](https://www.standardwebhooks.com/) specification:
headers `webhook-id` (the same on every retry of a message: deduplicate on it),
`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`;
two, space-separated, during a secret rotation). A 2xx within 15 s is success; anything else
is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (with jitter); `Retry-After` on
429/503 is honoured; 410 Gone disables the endpoint at once; an endpoint failing every
attempt for 5 days is disabled and its partner e-mailed. An endpoint's `max_in_flight` and
`rate_limit_per_second` hold for the whole platform, however many replicas of this service
run: they share the count. **Ordering is not promised**, not even per endpoint: order by the
body's `timestamp`.
"""


@router.get(
    "/event-types",
    response_model=list[EventTypeView],
    summary="Event types an endpoint can subscribe to (from the contracts)",
)
async def event_types(_: CurrentPrincipal) -> list[EventTypeView]:
    return [
        EventTypeView(
            type=event_type,
            description=(event_class.__doc__ or "").strip().splitlines()[0],
            dataschema=dataschema_for(event_type),
        )
        for event_type, event_class in sorted(WEBHOOK_EVENT_TYPES.items())
    ]


@router.post(
    "/endpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointCreated,
    summary="Register a webhook endpoint (its secret is shown once)",
    description=DELIVERY_NOTES,
)
async def create_endpoint(
    body: EndpointCreate, context: Context, uow: Uow, scope: PartnerScope
) -> EndpointCreated:
    created = await use_cases.create_endpoint(
        commands.CreateEndpoint(
            scope,
            partner_id=body.partner_id,
            url=body.url,
            description=body.description,
            event_types=tuple(dict.fromkeys(body.event_types)),
            rate_limit_per_second=body.rate_limit_per_second,
            max_in_flight=body.max_in_flight,
        ),
        uow,
        context,
    )
    return EndpointCreated(**EndpointView.of(created.endpoint).model_dump(), secret=created.secret)


@router.get(
    "/endpoints",
    response_model=list[EndpointView],
    summary="Your endpoints (admins: all)",
)
async def list_endpoints(uow: Uow, scope: PartnerScope) -> list[EndpointView]:
    found = await use_cases.list_endpoints(commands.ListEndpoints(scope), uow)
    return [EndpointView.of(e) for e in found]


@router.get(
    "/endpoints/{endpoint_id}",
    response_model=EndpointView,
    summary="One endpoint",
)
async def get_endpoint(endpoint_id: uuid.UUID, uow: Uow, scope: PartnerScope) -> EndpointView:
    endpoint = await use_cases.get_endpoint(commands.GetEndpoint(scope, endpoint_id), uow)
    return EndpointView.of(endpoint)


@router.patch(
    "/endpoints/{endpoint_id}",
    response_model=EndpointView,
    summary="Change an endpoint; `enabled: true` re-enables a disabled one",
    description="A partner may re-enable an endpoint it disabled, or one the platform "
    "disabled (410 Gone, failures); one that an administrator disabled, or that was "
    "disabled because its partner was deactivated, only an administrator can, and only "
    "once the partner is active again.",
)
async def update_endpoint(
    endpoint_id: uuid.UUID, body: EndpointUpdate, context: Context, uow: Uow, scope: PartnerScope
) -> EndpointView:
    given = body.model_fields_set
    command = commands.UpdateEndpoint(
        scope,
        endpoint_id,
        url=body.url,
        description=body.description,
        event_types=tuple(dict.fromkeys(body.event_types)) if body.event_types else None,
        enabled=body.enabled,
        rate_limit_per_second=body.rate_limit_per_second,
        max_in_flight=body.max_in_flight,
        clear_rate_limit="rate_limit_per_second" in given and body.rate_limit_per_second is None,
        clear_max_in_flight="max_in_flight" in given and body.max_in_flight is None,
    )
    return EndpointView.of(await use_cases.update_endpoint(command, uow, context))


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an endpoint (its pending messages fail; the log stays)",
)
async def delete_endpoint(endpoint_id: uuid.UUID, uow: Uow, scope: PartnerScope) -> Response:
    await use_cases.delete_endpoint(commands.DeleteEndpoint(scope, endpoint_id), uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretRotated,
    summary="New signing secret; the old one keeps signing during a grace period",
)
async def rotate_secret(
    endpoint_id: uuid.UUID,
    context: Context,
    uow: Uow,
    scope: PartnerScope,
    body: RotateSecret | None = None,
) -> SecretRotated:
    rotated = await use_cases.rotate_secret(
        commands.RotateSecret(
            scope, endpoint_id, grace_seconds=body.grace_period_seconds if body else None
        ),
        uow,
        context,
    )
    endpoint = rotated.endpoint
    return SecretRotated(
        endpoint_id=endpoint.id,
        secret=rotated.secret,
        previous_secret_valid_until=endpoint.previous_secret_expires_at
        if endpoint.previous_secret
        else None,
    )


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TestQueued,
    summary="Send a test message (type `mpa.webhook.test`) through the normal pipeline",
)
async def send_test(
    endpoint_id: uuid.UUID, context: Context, uow: Uow, scope: PartnerScope
) -> TestQueued:
    queued = await use_cases.send_test(commands.SendTest(scope, endpoint_id), uow, context)
    return TestQueued(delivery_id=queued)


@router.post(
    "/endpoints/{endpoint_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Recovered,
    summary="Re-send every failed message of this endpoint since a time",
)
async def recover(
    endpoint_id: uuid.UUID,
    since: Annotated[DateTime, Query(description="RFC 3339 time; messages created since")],
    context: Context,
    uow: Uow,
    scope: PartnerScope,
) -> Recovered:
    if since.tzinfo is None:
        raise Problem(
            422,
            "Invalid request",
            "since must carry a time zone",
            extra={"errors": [{"field": "query.since", "reason": "time zone required"}]},
        )
    requeued = await use_cases.recover(
        commands.RecoverEndpoint(scope, endpoint_id, since), uow, context
    )
    return Recovered(requeued=requeued)
