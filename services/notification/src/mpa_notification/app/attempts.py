"""The dispatcher's two use cases: claiming due deliveries, and recording what their
attempts did — for many attempts in one transaction each.

Recording locks the deliveries (and the endpoints whose health may change), writes every
attempt row, every delivery's new state and the events they cause together, or nothing.
Every delivery's outcome is an event (delivered, attempt failed, exhausted), whoever it was
for, so the audit log holds them; recipients are named by kind and pseudonymous ids only.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from mpa_common.uow import Cause
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.events.notification import (
    NO_PARTNER_ID,
    NotificationAttemptFailedV1,
    NotificationDeliveredV1,
    NotificationExhaustedV1,
)
from mpa_contracts.vocabularies import DeliveryFailureReason, NotificationChannel
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoint_health import disable_endpoint
from mpa_notification.app.fanout import tell_about
from mpa_notification.app.ports import NotificationUow, UowFactory
from mpa_notification.domain.attempts import AttemptStep, after_attempt
from mpa_notification.domain.content import referral_link
from mpa_notification.domain.models import (
    Attempt,
    Claim,
    Claimed,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
)
from mpa_notification.domain.outcomes import AttemptResult, Verdict
from mpa_notification.domain.routing import RECIPIENT_KIND


@dataclass(frozen=True)
class AttemptMade:
    """One attempt the dispatcher made, to be recorded."""

    delivery_id: uuid.UUID
    result: AttemptResult
    started_at: datetime
    latency_ms: int
    # The delivery's attempt count when it was claimed: a result is recorded only onto that
    # count, so recording it twice (a commit whose answer was lost to an outage, then
    # retried) writes it once.
    attempts_before: int


async def claim_due(
    uow: UowFactory,
    context: NotificationContext,
    *,
    limit: int,
    ended: Collection[tuple[uuid.UUID, datetime]] = (),
) -> list[Claimed]:
    """Up to `limit` due deliveries, within every lane's limits across all replicas; the
    lanes of `ended` attempts (not recorded yet) are free again."""
    return (await claim(uow, context, limit=limit, ended=ended)).claimed


async def claim(
    uow: UowFactory,
    context: NotificationContext,
    *,
    limit: int,
    ended: Collection[tuple[uuid.UUID, datetime]] = (),
) -> Claim:
    """`claim_due`, and when the next delivery is due after it (`next_due_in`)."""
    settings = context.settings
    async with uow() as work:
        claimed = await work.queue.claim(
            limit=limit,
            endpoint_cap=settings.endpoint_max_in_flight,
            email_cap=settings.email_max_in_flight,
            lease_seconds=context.lease_seconds,
            ended=ended,
        )
        await work.commit()
    return claimed


async def record_attempts(
    attempts: Sequence[AttemptMade], uow: UowFactory, context: NotificationContext
) -> None:
    """Records attempts in the order they ended, in one transaction."""
    if not attempts:
        return
    async with uow() as work:
        deliveries, seen = await work.queue.lock_with_endpoints({a.delivery_id for a in attempts})
        endpoints = await _endpoints_of(work, attempts, deliveries, seen)
        now = datetime.now(UTC)
        log: list[tuple[uuid.UUID, Attempt]] = []
        touched: set[uuid.UUID] = set()
        changed_endpoints: set[uuid.UUID] = set()
        disabling: list[tuple[Endpoint, DisabledReason]] = []
        for made in attempts:
            delivery = deliveries.get(made.delivery_id)
            if delivery is None or delivery.attempts != made.attempts_before:
                continue  # gone, or this result (or a later attempt's) is recorded already
            endpoint = endpoints.get(delivery.endpoint_id) if delivery.endpoint_id else None
            step = after_attempt(
                delivery,
                endpoint,
                made.result,
                started_at=made.started_at,
                latency_ms=made.latency_ms,
                now=now,
                schedule=context.schedule,
                disable_after=context.disable_after,
            )
            deliveries[delivery.id] = step.delivery
            touched.add(delivery.id)
            log.append((delivery.id, step.attempt))
            if step.endpoint is not None and step.endpoint != endpoint:
                endpoints[step.endpoint.id] = step.endpoint
                changed_endpoints.add(step.endpoint.id)
            _emit_outcome(work, context, step, made.result)
            if step.disable is not None and step.endpoint is not None:
                disabling.append((step.endpoint, step.disable))
                _disabled_in_batch(step.endpoint.disabled(step.disable), endpoints, deliveries)
        await work.queue.record(log, [deliveries[i] for i in sorted(touched)])
        for endpoint, reason in disabling:
            await disable_endpoint(work, context, endpoint, reason)
        if changed_endpoints:
            # Their health as the batch left it (after a disabling, a late success too).
            await work.endpoints.save_many([endpoints[i] for i in sorted(changed_endpoints)])
        await work.commit()


def _disabled_in_batch(
    endpoint: Endpoint,
    endpoints: dict[uuid.UUID, Endpoint],
    deliveries: dict[uuid.UUID, Delivery],
) -> None:
    """What disabling `endpoint` does to the rest of the batch: as if recorded one by one,
    its pending deliveries fail, and their later results are only logged."""
    endpoints[endpoint.id] = endpoint
    for delivery_id, delivery in deliveries.items():
        if delivery.endpoint_id == endpoint.id and delivery.state is DeliveryState.PENDING:
            deliveries[delivery_id] = replace(
                delivery,
                state=DeliveryState.FAILED,
                next_attempt_at=None,
                last_failure="endpoint_disabled",
            )


async def _endpoints_of(
    work: NotificationUow,
    attempts: Sequence[AttemptMade],
    deliveries: dict[uuid.UUID, Delivery],
    seen: dict[uuid.UUID, Endpoint],
) -> dict[uuid.UUID, Endpoint]:
    """The endpoints of these deliveries: locked where a failure may change their health
    (successes, the common case, do not queue behind each other on a healthy row: they
    keep the endpoints `seen`, read unlocked with the deliveries)."""
    failing: set[uuid.UUID] = set()
    succeeding: set[uuid.UUID] = set()
    for made in attempts:
        delivery = deliveries.get(made.delivery_id)
        if delivery is None or delivery.endpoint_id is None:
            continue
        if made.result.verdict is Verdict.DELIVERED:
            succeeding.add(delivery.endpoint_id)
        else:
            failing.add(delivery.endpoint_id)
    found: dict[uuid.UUID, Endpoint] = {}
    if failing:
        found.update(await work.endpoints.get_many(failing, lock=True))
    rest = succeeding - failing
    if rest:
        read = {i: seen[i] for i in rest if i in seen}
        unhealthy = {i for i, e in read.items() if not e.is_healthy}
        found.update(read)
        if unhealthy:
            # About to be reset: read again under the row lock.
            found.update(await work.endpoints.get_many(unhealthy, lock=True))
    return found


def _emit_outcome(
    work: NotificationUow, context: NotificationContext, step: AttemptStep, result: AttemptResult
) -> None:
    delivery = step.delivery
    if step.delivered:
        _emit(work, delivery, _delivered(delivery))
        return
    failure = step.failure or DeliveryFailureReason.CONNECTION_ERROR
    _emit(work, delivery, _attempt_failed(delivery, result, failure))
    if step.exhausted:
        exhausted = _emit(work, delivery, _exhausted(delivery, failure))
        # A webhook about a referral that never arrived: people must act. (A failed e-mail
        # is not announced by e-mail; a test message concerns no one else.)
        if delivery.channel is NotificationChannel.WEBHOOK and delivery.referral_id:
            _tell_about_exhaustion(work, context, delivery, exhausted, failure)


def _about(delivery: Delivery) -> dict[str, Any]:
    """What every outcome event says of a delivery: whom it concerns, whom it was for."""
    return {
        "notification_id": delivery.id,
        "partner_id": delivery.partner_id or NO_PARTNER_ID,
        "referral_id": delivery.referral_id,
        "case_id": delivery.case_id,
        "channel": delivery.channel,
        "recipient": RECIPIENT_KIND[delivery.audience],
        "endpoint_id": delivery.endpoint_id,
        "contact_id": delivery.contact_id,
    }


def _emit(work: NotificationUow, delivery: Delivery, data: EventData) -> Envelope:
    if delivery.referral_id is not None:
        subject: str | None = f"referral/{delivery.referral_id}"
    elif delivery.partner_id is not None:
        subject = f"partner/{delivery.partner_id}"
    else:
        subject = None
    return work.emit(
        data,
        cause=Cause(delivery.correlation_id, delivery.trigger_event_id),
        subject=subject,
    )


def _delivered(delivery: Delivery) -> NotificationDeliveredV1:
    return NotificationDeliveredV1(
        **_about(delivery), trigger_event_id=delivery.trigger_event_id, attempt=delivery.attempts
    )


def _attempt_failed(
    delivery: Delivery, result: AttemptResult, failure: DeliveryFailureReason
) -> NotificationAttemptFailedV1:
    return NotificationAttemptFailedV1(
        **_about(delivery),
        attempt=delivery.attempts,
        failure=failure,
        http_status=result.status_code,
        next_attempt_at=(
            delivery.next_attempt_at if delivery.state is DeliveryState.PENDING else None
        ),
    )


def _exhausted(delivery: Delivery, failure: DeliveryFailureReason) -> NotificationExhaustedV1:
    return NotificationExhaustedV1(
        **_about(delivery), attempts=delivery.attempts, last_failure=failure
    )


def _tell_about_exhaustion(
    work: NotificationUow,
    context: NotificationContext,
    delivery: Delivery,
    exhausted: Envelope,
    failure: DeliveryFailureReason,
) -> None:
    """A webhook about a referral could not be delivered: the partner's contacts, the
    referrer and the country's supervisors are e-mailed about the `exhausted` event."""
    assert delivery.referral_id is not None
    assert delivery.partner_id is not None
    tell_about(
        work,
        context,
        exhausted,
        delivery.partner_id,
        {
            "notification_id": str(delivery.id),
            "partner_id": str(delivery.partner_id),
            "referral_id": str(delivery.referral_id),
            "case_id": str(delivery.case_id),
            "attempts": delivery.attempts,
            "last_failure": failure.value,
            "links": {
                "referral": referral_link(
                    context.settings.referral_api_base_url, delivery.referral_id
                )
            },
        },
        referral_id=delivery.referral_id,
    )
