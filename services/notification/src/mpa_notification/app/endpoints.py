"""Use cases of webhook endpoints: register, change, delete, rotate, test, recover."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_common.problems import Problem
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.adapters.repositories import DeliveryRepository, EndpointRepository
from mpa_notification.adapters.secrets import new_webhook_secret
from mpa_notification.adapters.webhooks import resolve_checked
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoint_health import disable_endpoint
from mpa_notification.app.scope import Scope, not_found
from mpa_notification.domain.content import webhook_test_body
from mpa_notification.domain.models import DeliveryState, DisabledReason, Endpoint
from mpa_notification.domain.routing import TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES, Audience
from mpa_notification.domain.url_policy import UrlRefused

MAX_GRACE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class EndpointChanges:
    """A partial update: only fields that are set change."""

    url: str | None = None
    description: str | None = None
    event_types: tuple[str, ...] | None = None
    enabled: bool | None = None
    rate_limit_per_second: int | None = None
    max_in_flight: int | None = None
    clear_rate_limit: bool = False
    clear_max_in_flight: bool = False


def _invalid(field: str, reason: str) -> Problem:
    return Problem(
        422,
        "Invalid request",
        f"{field}: {reason}",
        type_="https://mpa.example.org/problems/validation",
        extra={"errors": [{"field": f"body.{field}", "reason": reason}]},
    )


async def _check_url(context: NotificationContext, url: str) -> None:
    try:
        await resolve_checked(url, context.policy, context.resolver)
    except UrlRefused as refused:
        raise _invalid("url", str(refused)) from refused


def _check_event_types(event_types: tuple[str, ...]) -> None:
    unknown = [t for t in event_types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        # Type names are public catalogue entries, safe to echo.
        raise _invalid("event_types", f"unknown event types: {', '.join(sorted(unknown))}")


async def create_endpoint(
    context: NotificationContext,
    scope: Scope,
    *,
    partner_id: uuid.UUID | None,
    url: str,
    description: str,
    event_types: tuple[str, ...],
    rate_limit_per_second: int | None,
    max_in_flight: int | None,
) -> tuple[Endpoint, str]:
    """The new endpoint and its signing secret (returned this once, stored encrypted)."""
    owner = scope.partner_for_new(partner_id)
    _check_event_types(event_types)
    await _check_url(context, url)
    endpoint_id = uuid.uuid4()
    secret = new_webhook_secret()
    async with context.uow() as uow:
        endpoint = await EndpointRepository(uow.session).add(
            {
                "id": endpoint_id,
                "partner_id": owner,
                "url": url,
                "description": description,
                "event_types": list(event_types),
                "enabled": True,
                "rate_limit_per_second": rate_limit_per_second,
                "max_in_flight": max_in_flight,
                "secret": context.secrets.seal(endpoint_id, secret),
            }
        )
        await uow.commit()
    return endpoint, secret


async def list_endpoints(context: NotificationContext, scope: Scope) -> list[Endpoint]:
    async with context.uow() as uow:
        return await EndpointRepository(uow.session).visible(partner_id=scope.partner_id)


async def get_endpoint(
    context: NotificationContext, scope: Scope, endpoint_id: uuid.UUID
) -> Endpoint:
    async with context.uow() as uow:
        endpoint = await EndpointRepository(uow.session).get(
            endpoint_id, partner_id=scope.partner_id
        )
    if endpoint is None:
        raise not_found("endpoint")
    return endpoint


async def update_endpoint(
    context: NotificationContext, scope: Scope, endpoint_id: uuid.UUID, changes: EndpointChanges
) -> Endpoint:
    if changes.event_types is not None:
        _check_event_types(changes.event_types)
    if changes.url is not None:
        await _check_url(context, changes.url)
    async with context.uow() as uow:
        repository = EndpointRepository(uow.session)
        endpoint = await repository.get(endpoint_id, partner_id=scope.partner_id, lock=True)
        if endpoint is None:
            raise not_found("endpoint")
        values: dict[str, Any] = {}
        if changes.url is not None:
            values["url"] = changes.url
        if changes.description is not None:
            values["description"] = changes.description
        if changes.event_types is not None:
            values["event_types"] = list(changes.event_types)
        if changes.rate_limit_per_second is not None or changes.clear_rate_limit:
            values["rate_limit_per_second"] = changes.rate_limit_per_second
        if changes.max_in_flight is not None or changes.clear_max_in_flight:
            values["max_in_flight"] = changes.max_in_flight
        if changes.enabled is True and not endpoint.enabled:
            # A fresh start: the failure run that disabled it is over.
            values.update(
                enabled=True, disabled_reason=None, failing_since=None, consecutive_failures=0
            )
        if values:
            endpoint = await repository.update(endpoint.id, values)
        if changes.enabled is False and endpoint.enabled:
            endpoint = await disable_endpoint(
                uow, context, endpoint, DisabledReason.PARTNER_REQUEST
            )
        await uow.commit()
    return endpoint


async def delete_endpoint(
    context: NotificationContext, scope: Scope, endpoint_id: uuid.UUID
) -> None:
    """Soft delete: the delivery log keeps referring to it; pending messages fail."""
    async with context.uow() as uow:
        repository = EndpointRepository(uow.session)
        endpoint = await repository.get(endpoint_id, partner_id=scope.partner_id, lock=True)
        if endpoint is None:
            raise not_found("endpoint")
        await repository.update(endpoint.id, {"enabled": False, "deleted_at": datetime.now(UTC)})
        await DeliveryRepository(uow.session).fail_pending_of_endpoint(
            endpoint.id, "endpoint_deleted"
        )
        await uow.commit()


async def rotate_secret(
    context: NotificationContext,
    scope: Scope,
    endpoint_id: uuid.UUID,
    *,
    grace_seconds: int | None,
) -> tuple[Endpoint, str]:
    """A new secret signs from now on; the current one also signs until the grace ends."""
    grace = (
        context.settings.rotation_grace_seconds_default if grace_seconds is None else grace_seconds
    )
    async with context.uow() as uow:
        repository = EndpointRepository(uow.session)
        endpoint = await repository.get(endpoint_id, partner_id=scope.partner_id, lock=True)
        if endpoint is None:
            raise not_found("endpoint")
        secret = new_webhook_secret()
        endpoint = await repository.update(
            endpoint.id,
            {
                "secret": context.secrets.seal(endpoint.id, secret),
                "previous_secret": endpoint.secret if grace > 0 else None,
                "previous_secret_expires_at": (
                    datetime.now(UTC) + timedelta(seconds=grace) if grace > 0 else None
                ),
            },
        )
        await uow.commit()
    return endpoint, secret


def signing_secrets(context: NotificationContext, endpoint: Endpoint, now: datetime) -> list[str]:
    secrets = [context.secrets.open(endpoint.id, endpoint.secret)]
    if (
        endpoint.previous_secret is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(context.secrets.open(endpoint.id, endpoint.previous_secret))
    return secrets


async def send_test(
    context: NotificationContext, scope: Scope, endpoint_id: uuid.UUID
) -> uuid.UUID:
    """Queues a test message to the endpoint (delivered and logged like any other)."""
    async with context.uow() as uow:
        endpoint = await EndpointRepository(uow.session).get(
            endpoint_id, partner_id=scope.partner_id
        )
        if endpoint is None:
            raise not_found("endpoint")
        if not endpoint.enabled:
            raise Problem(409, "Conflict", "The endpoint is disabled; enable it first")
        delivery_id = uuid.uuid4()
        now = datetime.now(UTC)
        await DeliveryRepository(uow.session).add_many(
            [
                {
                    "id": delivery_id,
                    "channel": NotificationChannel.WEBHOOK.value,
                    "audience": Audience.PARTNER.value,
                    "endpoint_id": endpoint.id,
                    "partner_id": endpoint.partner_id,
                    "event_type": TEST_EVENT_TYPE,
                    "body": webhook_test_body(endpoint.id, now),
                    "state": DeliveryState.PENDING.value,
                    "next_attempt_at": now,
                }
            ]
        )
        await uow.commit()
    context.wake_dispatcher()
    return delivery_id


async def recover(
    context: NotificationContext, scope: Scope, endpoint_id: uuid.UUID, since: datetime
) -> int:
    """Re-sends every failed message of the endpoint created since `since`; how many."""
    async with context.uow() as uow:
        endpoint = await EndpointRepository(uow.session).get(
            endpoint_id, partner_id=scope.partner_id, lock=True
        )
        if endpoint is None:
            raise not_found("endpoint")
        if not endpoint.enabled:
            raise Problem(409, "Conflict", "The endpoint is disabled; enable it first")
        count = await DeliveryRepository(uow.session).requeue_failed_of_endpoint(endpoint.id, since)
        await uow.commit()
    if count:
        context.wake_dispatcher()
    return count
