"""Use cases of webhook endpoints: register, change, delete, rotate, test, recover.

Each takes its command and a unit-of-work factory, commits once, and raises the domain's
errors (`mpa_notification.domain.errors`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.app.commands import (
    CreateEndpoint,
    DeleteEndpoint,
    GetEndpoint,
    ListEndpoints,
    RecoverEndpoint,
    RotateSecret,
    SendTest,
    UpdateEndpoint,
)
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoint_health import disable_endpoint
from mpa_notification.app.ports import NotificationUow, UowFactory, WebhookSecrets
from mpa_notification.app.scope import Scope
from mpa_notification.domain.content import webhook_test_body
from mpa_notification.domain.errors import Conflict, InvalidRequest, NotFound
from mpa_notification.domain.models import DisabledReason, Endpoint, NewDelivery
from mpa_notification.domain.routing import TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES, Audience
from mpa_notification.domain.url_policy import UrlRefused


@dataclass(frozen=True)
class EndpointWithSecret:
    """An endpoint and its signing secret, shown this once (it is stored sealed)."""

    endpoint: Endpoint
    secret: str


def _invalid(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {reason}", field=f"body.{field}", reason=reason)


async def _check_url(context: NotificationContext, url: str) -> None:
    try:
        await context.check_url(url)
    except UrlRefused as refused:
        raise _invalid("url", str(refused)) from refused


def _check_event_types(event_types: tuple[str, ...]) -> None:
    unknown = [t for t in event_types if t not in WEBHOOK_EVENT_TYPES]
    if unknown:
        # Type names are public catalogue entries, safe to echo.
        raise _invalid("event_types", f"unknown event types: {', '.join(sorted(unknown))}")


async def _visible(uow: NotificationUow, scope: Scope, endpoint_id: uuid.UUID) -> Endpoint:
    """The endpoint, locked, if the caller may see it."""
    endpoint = await uow.endpoints.get(endpoint_id, partner_id=scope.partner_id, lock=True)
    if endpoint is None:
        raise NotFound("endpoint")
    return endpoint


async def create_endpoint(
    command: CreateEndpoint, uow: UowFactory, context: NotificationContext
) -> EndpointWithSecret:
    owner = command.scope.partner_for_new(command.partner_id)
    _check_event_types(command.event_types)
    await _check_url(context, command.url)
    endpoint_id = uuid.uuid4()
    secret = context.secrets.new()
    now = datetime.now(UTC)
    async with uow() as work:
        if not await work.partners.is_active(owner):
            raise Conflict("The partner is deactivated: it receives no webhooks")
        endpoint = await work.endpoints.add(
            Endpoint.register(
                id=endpoint_id,
                partner_id=owner,
                url=command.url,
                description=command.description,
                event_types=command.event_types,
                rate_limit_per_second=command.rate_limit_per_second,
                max_in_flight=command.max_in_flight,
                secret=context.secrets.seal(endpoint_id, secret),
                at=now,
            )
        )
        await work.commit()
    return EndpointWithSecret(endpoint, secret)


async def list_endpoints(command: ListEndpoints, uow: UowFactory) -> list[Endpoint]:
    async with uow() as work:
        return await work.endpoints.visible(partner_id=command.scope.partner_id)


async def get_endpoint(command: GetEndpoint, uow: UowFactory) -> Endpoint:
    async with uow() as work:
        endpoint = await work.endpoints.get(
            command.endpoint_id, partner_id=command.scope.partner_id
        )
    if endpoint is None:
        raise NotFound("endpoint")
    return endpoint


async def update_endpoint(
    command: UpdateEndpoint, uow: UowFactory, context: NotificationContext
) -> Endpoint:
    if command.event_types is not None:
        _check_event_types(command.event_types)
    if command.url is not None:
        await _check_url(context, command.url)
    scope = command.scope
    async with uow() as work:
        endpoint = await _visible(work, scope, command.endpoint_id)
        changed = replace(
            endpoint,
            url=command.url if command.url is not None else endpoint.url,
            description=(
                command.description if command.description is not None else endpoint.description
            ),
            event_types=(
                command.event_types if command.event_types is not None else endpoint.event_types
            ),
            rate_limit_per_second=(
                command.rate_limit_per_second
                if command.rate_limit_per_second is not None or command.clear_rate_limit
                else endpoint.rate_limit_per_second
            ),
            max_in_flight=(
                command.max_in_flight
                if command.max_in_flight is not None or command.clear_max_in_flight
                else endpoint.max_in_flight
            ),
        )
        if command.enabled is True and not endpoint.enabled:
            changed = changed.enabled_again(
                by_administrator=scope.is_admin,
                partner_active=await work.partners.is_active(endpoint.partner_id),
            )
        if changed != endpoint:
            endpoint = await work.endpoints.save(changed)
        if command.enabled is False and endpoint.enabled:
            reason = (
                DisabledReason.ADMINISTRATOR_REQUEST
                if scope.is_admin
                else DisabledReason.PARTNER_REQUEST
            )
            endpoint = await disable_endpoint(work, context, endpoint, reason)
        await work.commit()
    return endpoint


async def delete_endpoint(command: DeleteEndpoint, uow: UowFactory) -> None:
    """Soft delete: the delivery log keeps referring to it; pending messages fail."""
    async with uow() as work:
        endpoint = await _visible(work, command.scope, command.endpoint_id)
        await work.endpoints.delete(endpoint.id)
        await work.queue.fail_pending_of(endpoint.id, "endpoint_deleted")
        await work.commit()


async def rotate_secret(
    command: RotateSecret, uow: UowFactory, context: NotificationContext
) -> EndpointWithSecret:
    """A new secret signs from now on; the current one also signs until the grace ends."""
    grace = (
        context.settings.rotation_grace_seconds_default
        if command.grace_seconds is None
        else command.grace_seconds
    )
    async with uow() as work:
        endpoint = await _visible(work, command.scope, command.endpoint_id)
        secret = context.secrets.new()
        endpoint = await work.endpoints.save(
            replace(
                endpoint,
                secret=context.secrets.seal(endpoint.id, secret),
                previous_secret=endpoint.secret if grace > 0 else None,
                previous_secret_expires_at=(
                    datetime.now(UTC) + timedelta(seconds=grace) if grace > 0 else None
                ),
            )
        )
        await work.commit()
    return EndpointWithSecret(endpoint, secret)


def signing_secrets(secrets: WebhookSecrets, endpoint: Endpoint, now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous one during
    its grace period."""
    opened = [secrets.open(endpoint.id, endpoint.secret)]
    if (
        endpoint.previous_secret is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        opened.append(secrets.open(endpoint.id, endpoint.previous_secret))
    return opened


async def send_test(command: SendTest, uow: UowFactory, context: NotificationContext) -> uuid.UUID:
    """Queues a test message to the endpoint (delivered and logged like any other)."""
    async with uow() as work:
        endpoint = await work.endpoints.get(
            command.endpoint_id, partner_id=command.scope.partner_id
        )
        if endpoint is None:
            raise NotFound("endpoint")
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled; enable it first")
        delivery_id = uuid.uuid4()
        now = datetime.now(UTC)
        await work.deliveries.add_many(
            [
                NewDelivery(
                    id=delivery_id,
                    channel=NotificationChannel.WEBHOOK,
                    audience=Audience.PARTNER,
                    partner_id=endpoint.partner_id,
                    event_type=TEST_EVENT_TYPE,
                    body=webhook_test_body(endpoint.id, now),
                    next_attempt_at=now,
                    endpoint_id=endpoint.id,
                )
            ]
        )
        work.after_commit(context.wake_dispatcher)
        await work.commit()
    return delivery_id


async def recover(command: RecoverEndpoint, uow: UowFactory, context: NotificationContext) -> int:
    """Re-sends every failed message of the endpoint created since `since`; how many."""
    async with uow() as work:
        endpoint = await _visible(work, command.scope, command.endpoint_id)
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled; enable it first")
        count = await work.queue.requeue_failed_of(endpoint.id, command.since)
        if count:
            work.after_commit(context.wake_dispatcher)
        await work.commit()
    return count
