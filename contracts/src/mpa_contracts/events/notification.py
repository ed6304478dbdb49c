"""Events of partner notification (topic `mpa.notification.v1`, key `partner_id`).

Keyed by partner: attempts, exhaustion and the disabling of a partner's endpoint are
facts about that endpoint and must be read in order. No endpoint address is ever carried.
"""

from pydantic import Field

from mpa_contracts.events.base import EventData
from mpa_contracts.types import (
    CaseId,
    EventId,
    NotificationId,
    PartnerId,
    ReferralId,
    UtcTimestamp,
)
from mpa_contracts.vocabularies import (
    DeliveryFailureReason,
    EndpointDisabledReason,
    NotificationChannel,
)


class NotificationDeliveredV1(EventData):
    """A partner's endpoint acknowledged a referral notification."""

    event_type = "org.mpa.notification.delivered.v1"

    notification_id: NotificationId
    partner_id: PartnerId
    referral_id: ReferralId
    case_id: CaseId
    trigger_event_id: EventId = Field(description="Event the notification announced")
    channel: NotificationChannel
    attempt: int = Field(ge=1, description="Attempt that succeeded, 1 for the first")


class NotificationAttemptFailedV1(EventData):
    """One delivery attempt failed; another follows at `next_attempt_at` unless absent."""

    event_type = "org.mpa.notification.attempt_failed.v1"

    notification_id: NotificationId
    partner_id: PartnerId
    referral_id: ReferralId
    case_id: CaseId
    channel: NotificationChannel
    attempt: int = Field(ge=1)
    failure: DeliveryFailureReason
    http_status: int | None = Field(
        default=None, ge=100, le=599, description="Webhook response status, when one came"
    )
    next_attempt_at: UtcTimestamp | None = Field(
        default=None, description="Absent when this was the last attempt"
    )


class NotificationExhaustedV1(EventData):
    """Every attempt failed; the referral's caseworker must reach the partner another way."""

    event_type = "org.mpa.notification.exhausted.v1"

    notification_id: NotificationId
    partner_id: PartnerId
    referral_id: ReferralId
    case_id: CaseId
    channel: NotificationChannel
    attempts: int = Field(ge=1)
    last_failure: DeliveryFailureReason


class NotificationEndpointDisabledV1(EventData):
    """The notification service stopped using a partner's endpoint until it is fixed."""

    event_type = "org.mpa.notification.endpoint_disabled.v1"

    partner_id: PartnerId
    channel: NotificationChannel
    reason: EndpointDisabledReason
    consecutive_failures: int = Field(ge=0)


NOTIFICATION_EVENTS: tuple[type[EventData], ...] = (
    NotificationDeliveredV1,
    NotificationAttemptFailedV1,
    NotificationExhaustedV1,
    NotificationEndpointDisabledV1,
)
