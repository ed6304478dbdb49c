"""Events of notification delivery (topic `mpa.notification.v1`, key `partner_id`).

Every delivery's outcome is an event, whoever it was for: a partner's webhook endpoint or
contact address, the referrer, or a country's supervisors. `recipient` says which kind;
`endpoint_id` or `contact_id` which one, pseudonymously (never a URL or an address).

Keyed by the partner the notification concerns: attempts, exhaustion and the disabling of a
partner's endpoint are facts about that partner and must be read in order. A notification
that concerns no partner (a referral no partner could take) carries `NO_PARTNER_ID`, so its
events still share one key and stay in order.
"""

from typing import Final
from uuid import UUID

from pydantic import Field

from mpa_contracts.events.base import EventData
from mpa_contracts.types import (
    CaseId,
    ContactId,
    EndpointId,
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
    NotificationRecipient,
)

# `partner_id` of a notification that concerns no partner: the nil UUID (RFC 9562).
NO_PARTNER_ID: Final = UUID(int=0)

_PARTNER = (
    "Partner the notification concerns: the recipient, or the referral's partner when a "
    "referrer or supervisors are told; the nil UUID when it concerns none"
)
_RECIPIENT = "Kind of recipient; partner for events written before the field existed"
_ENDPOINT = "The webhook endpoint, for a webhook"
_CONTACT = "The recipient registry entry, for an e-mail"
_REFERRAL = "The referral the notification is about, if any"
_CASE = "The case of that referral, if any"


class NotificationDeliveredV1(EventData):
    """A notification reached its recipient (a webhook endpoint or the SMTP server)."""

    event_type = "org.mpa.notification.delivered.v1"

    notification_id: NotificationId
    partner_id: PartnerId = Field(description=_PARTNER)
    referral_id: ReferralId | None = Field(default=None, description=_REFERRAL)
    case_id: CaseId | None = Field(default=None, description=_CASE)
    trigger_event_id: EventId | None = Field(
        default=None, description="Event the notification announced, if it announced one"
    )
    channel: NotificationChannel
    attempt: int = Field(ge=1, description="Attempt that succeeded, 1 for the first")
    recipient: NotificationRecipient = Field(
        default=NotificationRecipient.PARTNER, description=_RECIPIENT
    )
    endpoint_id: EndpointId | None = Field(default=None, description=_ENDPOINT)
    contact_id: ContactId | None = Field(default=None, description=_CONTACT)


class NotificationAttemptFailedV1(EventData):
    """One delivery attempt failed; another follows at `next_attempt_at` unless absent."""

    event_type = "org.mpa.notification.attempt_failed.v1"

    notification_id: NotificationId
    partner_id: PartnerId = Field(description=_PARTNER)
    referral_id: ReferralId | None = Field(default=None, description=_REFERRAL)
    case_id: CaseId | None = Field(default=None, description=_CASE)
    channel: NotificationChannel
    attempt: int = Field(ge=1)
    failure: DeliveryFailureReason
    http_status: int | None = Field(
        default=None, ge=100, le=599, description="Webhook response status, when one came"
    )
    next_attempt_at: UtcTimestamp | None = Field(
        default=None, description="Absent when this was the last attempt"
    )
    recipient: NotificationRecipient = Field(
        default=NotificationRecipient.PARTNER, description=_RECIPIENT
    )
    endpoint_id: EndpointId | None = Field(default=None, description=_ENDPOINT)
    contact_id: ContactId | None = Field(default=None, description=_CONTACT)


class NotificationExhaustedV1(EventData):
    """Every attempt failed; the recipient must be reached another way."""

    event_type = "org.mpa.notification.exhausted.v1"

    notification_id: NotificationId
    partner_id: PartnerId = Field(description=_PARTNER)
    referral_id: ReferralId | None = Field(default=None, description=_REFERRAL)
    case_id: CaseId | None = Field(default=None, description=_CASE)
    channel: NotificationChannel
    attempts: int = Field(ge=1)
    last_failure: DeliveryFailureReason
    recipient: NotificationRecipient = Field(
        default=NotificationRecipient.PARTNER, description=_RECIPIENT
    )
    endpoint_id: EndpointId | None = Field(default=None, description=_ENDPOINT)
    contact_id: ContactId | None = Field(default=None, description=_CONTACT)


class NotificationEndpointDisabledV1(EventData):
    """The notification service stopped using a partner's endpoint until it is fixed."""

    event_type = "org.mpa.notification.endpoint_disabled.v1"

    partner_id: PartnerId
    channel: NotificationChannel
    reason: EndpointDisabledReason
    consecutive_failures: int = Field(ge=0)
    endpoint_id: EndpointId | None = Field(
        default=None, description="The endpoint disabled (absent in early events)"
    )


NOTIFICATION_EVENTS: tuple[type[EventData], ...] = (
    NotificationDeliveredV1,
    NotificationAttemptFailedV1,
    NotificationExhaustedV1,
    NotificationEndpointDisabledV1,
)
