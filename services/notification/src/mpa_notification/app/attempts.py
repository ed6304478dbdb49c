"""Recording the result of one delivery attempt: the log, the schedule, events, e-mails.

Runs after the attempt, in one transaction that locks the delivery and its endpoint, so
the attempt row, the new state and the events it causes are written together or not at all.
Every delivery's outcome is an event (delivered, attempt failed, exhausted), whoever it was
for, so the audit log holds them; recipients are named by kind and pseudonymous ids only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.events.notification import (
    NO_PARTNER_ID,
    NotificationAttemptFailedV1,
    NotificationDeliveredV1,
    NotificationExhaustedV1,
)
from mpa_contracts.vocabularies import DeliveryFailureReason, NotificationChannel
from mpa_notification.adapters.repositories import (
    DeliveryRepository,
    EndpointRepository,
    ReferralRepository,
)
from mpa_notification.app.context import SOURCE, NotificationContext
from mpa_notification.app.endpoint_health import disable_endpoint
from mpa_notification.app.fanout import Notification, fan_out
from mpa_notification.domain.content import body_for_outcome, referral_link
from mpa_notification.domain.models import Attempt, Delivery, DeliveryState, DisabledReason
from mpa_notification.domain.outcomes import AttemptResult, Verdict
from mpa_notification.domain.routing import EMAIL_AUDIENCES, RECIPIENT_KIND


async def record_attempt(
    context: NotificationContext,
    claimed: Delivery,
    result: AttemptResult,
    *,
    started_at: datetime,
    latency_ms: int,
) -> None:
    async with context.uow() as uow:
        deliveries = DeliveryRepository(uow.session)
        delivery = await deliveries.get(claimed.id, partner_id=None, lock=True)
        if delivery is None:
            return
        endpoints = EndpointRepository(uow.session)
        # Only a failure changes the endpoint's health counters and may disable it: lock it
        # then. Successes, the common case, do not queue behind each other on its row.
        failed = result.verdict is not Verdict.DELIVERED
        endpoint = (
            await endpoints.get(delivery.endpoint_id, partner_id=None, lock=failed)
            if delivery.endpoint_id is not None
            else None
        )
        now = datetime.now(UTC)
        number = delivery.attempts + 1
        await deliveries.add_attempt(
            delivery.id,
            Attempt(
                attempt=number,
                started_at=started_at,
                latency_ms=latency_ms,
                status_code=result.status_code,
                failure=result.failure.value if result.failure else None,
                error=result.error,
            ),
        )
        position = delivery.schedule_position + 1
        # The attempt is over: its lease no longer counts against the endpoint's limits.
        common = {"attempts": number, "schedule_position": position, "leased_until": None}
        if result.verdict is Verdict.DELIVERED:
            await deliveries.update(
                delivery.id,
                {
                    **common,
                    "state": DeliveryState.DELIVERED.value,
                    "delivered_at": now,
                    "next_attempt_at": None,
                    "last_status_code": result.status_code,
                },
            )
            if endpoint is not None and (endpoint.failing_since or endpoint.consecutive_failures):
                await endpoints.update(
                    endpoint.id, {"failing_since": None, "consecutive_failures": 0}
                )
            _emit(uow, delivery, _delivered(delivery, number))
            await uow.commit()
            return

        failure = result.failure or DeliveryFailureReason.CONNECTION_ERROR
        if delivery.state is not DeliveryState.PENDING:
            # Its endpoint was disabled or deleted while the attempt ran: log it, no more.
            await deliveries.update(delivery.id, {**common, "last_status_code": result.status_code})
            _emit(uow, delivery, _attempt_failed(delivery, number, result, None))
            await uow.commit()
            return
        delay = (
            None
            if result.verdict is Verdict.GONE
            else context.schedule.delay_after(position, retry_after=result.retry_after_seconds)
        )
        next_attempt_at = now + timedelta(seconds=delay) if delay is not None else None
        if endpoint is not None:
            failing_since = endpoint.failing_since or now
            endpoint = await endpoints.update(
                endpoint.id,
                {
                    "failing_since": failing_since,
                    "consecutive_failures": endpoint.consecutive_failures + 1,
                },
            )
            failing_too_long = now - failing_since >= timedelta(
                seconds=context.settings.endpoint_disable_after_seconds
            )
            if result.verdict is Verdict.GONE or failing_too_long:
                next_attempt_at = None
        await deliveries.update(
            delivery.id,
            {
                **common,
                "state": (DeliveryState.PENDING if next_attempt_at else DeliveryState.FAILED).value,
                "next_attempt_at": next_attempt_at,
                "last_failure": failure.value,
                "last_status_code": result.status_code,
            },
        )
        _emit(uow, delivery, _attempt_failed(delivery, number, result, next_attempt_at))
        if next_attempt_at is None:
            exhausted = _emit(uow, delivery, _exhausted(delivery, number, failure))
            # A webhook about a referral that never arrived: people must act. (A failed
            # e-mail is not announced by e-mail; a test message concerns no one else.)
            if delivery.channel is NotificationChannel.WEBHOOK and delivery.referral_id:
                await _tell_about_exhaustion(uow, context, delivery, exhausted, number, failure)
        if endpoint is not None and endpoint.enabled:
            if result.verdict is Verdict.GONE:
                await disable_endpoint(uow, context, endpoint, DisabledReason.GONE)
            elif failing_too_long:
                await disable_endpoint(uow, context, endpoint, DisabledReason.CONSECUTIVE_FAILURES)
        await uow.commit()


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


def _emit(uow: UnitOfWork, delivery: Delivery, data: EventData) -> Envelope:
    if delivery.referral_id is not None:
        subject: str | None = f"referral/{delivery.referral_id}"
    elif delivery.partner_id is not None:
        subject = f"partner/{delivery.partner_id}"
    else:
        subject = None
    envelope = new_envelope(
        data,
        source=SOURCE,
        subject=subject,
        correlation_id=delivery.correlation_id,
        causation_id=delivery.trigger_event_id,
    )
    uow.emit_envelope(envelope)
    return envelope


def _delivered(delivery: Delivery, attempt: int) -> NotificationDeliveredV1:
    return NotificationDeliveredV1(
        **_about(delivery), trigger_event_id=delivery.trigger_event_id, attempt=attempt
    )


def _attempt_failed(
    delivery: Delivery, attempt: int, result: AttemptResult, next_attempt_at: datetime | None
) -> NotificationAttemptFailedV1:
    return NotificationAttemptFailedV1(
        **_about(delivery),
        attempt=attempt,
        failure=result.failure or DeliveryFailureReason.CONNECTION_ERROR,
        http_status=result.status_code,
        next_attempt_at=next_attempt_at,
    )


def _exhausted(
    delivery: Delivery, attempts: int, failure: DeliveryFailureReason
) -> NotificationExhaustedV1:
    return NotificationExhaustedV1(**_about(delivery), attempts=attempts, last_failure=failure)


async def _tell_about_exhaustion(
    uow: UnitOfWork,
    context: NotificationContext,
    delivery: Delivery,
    exhausted: Envelope,
    attempts: int,
    failure: DeliveryFailureReason,
) -> None:
    """A webhook about a referral could not be delivered: the partner's contacts, the
    referrer and the country's supervisors are e-mailed about the `exhausted` event."""
    assert delivery.referral_id is not None
    assert delivery.partner_id is not None
    event_type = NotificationExhaustedV1.event_type
    body = body_for_outcome(
        event_type,
        exhausted.time,
        {
            "notification_id": str(delivery.id),
            "partner_id": str(delivery.partner_id),
            "referral_id": str(delivery.referral_id),
            "case_id": str(delivery.case_id),
            "event_id": str(exhausted.id),
            "attempts": attempts,
            "last_failure": failure.value,
            "links": {
                "referral": referral_link(
                    context.settings.referral_api_base_url, delivery.referral_id
                )
            },
        },
    )
    referral = await ReferralRepository(uow.session).get(delivery.referral_id)
    created = await fan_out(
        uow,
        context,
        Notification(
            event_type,
            body,
            delivery.partner_id,
            referral,
            trigger_event_id=exhausted.id,
            correlation_id=exhausted.correlation_id,
        ),
        audiences=EMAIL_AUDIENCES[event_type],
        webhooks=False,
    )
    if created:
        # After the commit: woken earlier, the dispatcher would find nothing yet.
        uow.after_commit(context.wake_dispatcher)
