"""Request and response bodies of the notification API (documented in the OpenAPI)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from mpa_common.request_types import StrictBool, StrictInt, Text
from mpa_contracts.types import ActorId, CountryCode, OrgUnitCode
from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.domain.messages import Language
from mpa_notification.domain.models import (
    Attempt,
    Contact,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
)
from mpa_notification.domain.routing import Audience

EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$"
ROUTED = "org.mpa.referral.routed.v1"
# An event type named by an endpoint (checked against the catalogue by the use case).
EventTypeName = Annotated[Text, Field(min_length=1, max_length=200)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(Body):
    url: Text = Field(
        max_length=2000,
        description="Where to POST. `https` only in production; it must resolve to public "
        "addresses (checked now and before every attempt).",
        examples=["https://partner.example.org/mpa/webhooks"],
    )
    description: Text = Field(default="", max_length=500, examples=["Case system, production"])
    event_types: list[EventTypeName] = Field(
        min_length=1,
        max_length=50,
        description="Event types to receive (see GET /v1/event-types)",
        examples=[[ROUTED]],
    )
    rate_limit_per_second: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="At most this many requests start in any one second, counted across "
        "every replica of the service",
    )
    max_in_flight: StrictInt | None = Field(
        default=None,
        ge=1,
        le=64,
        description="At most this many requests at once, counted across every replica of "
        "the service (default 4)",
    )
    partner_id: uuid.UUID | None = Field(
        default=None,
        description="The owning partner: required for administrators; a partner's token "
        "decides it for partners",
    )


class EndpointUpdate(Body):
    url: Text | None = Field(default=None, max_length=2000)
    description: Text | None = Field(default=None, max_length=500)
    event_types: list[EventTypeName] | None = Field(default=None, min_length=1, max_length=50)
    enabled: StrictBool | None = Field(
        default=None,
        description="false stops deliveries (pending ones fail, see /recover); true resumes",
    )
    rate_limit_per_second: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Requests per second, across every replica; null removes the limit",
    )
    max_in_flight: StrictInt | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Requests at once, across every replica; null: the default (4)",
    )


class EndpointView(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: DisabledReason | None = Field(
        description="Why it was disabled: gone (410), consecutive_failures (5 days), "
        "partner_request, partner_deactivated"
    )
    rate_limit_per_second: int | None
    max_in_flight: int | None
    failing_since: datetime | None = Field(
        description="Start of the current run of failed attempts; null when healthy"
    )
    consecutive_failures: int
    previous_secret_valid_until: datetime | None = Field(
        description="During a rotation, until when the previous secret also signs"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointView:
        return cls(
            id=endpoint.id,
            partner_id=endpoint.partner_id,
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            rate_limit_per_second=endpoint.rate_limit_per_second,
            max_in_flight=endpoint.max_in_flight,
            failing_since=endpoint.failing_since,
            consecutive_failures=endpoint.consecutive_failures,
            previous_secret_valid_until=(
                endpoint.previous_secret_expires_at if endpoint.previous_secret else None
            ),
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class EndpointCreated(EndpointView):
    secret: str = Field(
        description="The signing secret (`whsec_` + base64). Shown this once: store it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class RotateSecret(Body):
    grace_period_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the current secret keeps signing beside the new one "
        "(default 24 h; 0 ends it now)",
    )


class SecretRotated(BaseModel):
    endpoint_id: uuid.UUID
    secret: str = Field(description="The new signing secret, shown this once")
    previous_secret_valid_until: datetime | None


class TestQueued(BaseModel):
    delivery_id: uuid.UUID = Field(description="Follow it at GET /v1/deliveries/{id}")


class Recovered(BaseModel):
    requeued: int = Field(description="Failed messages scheduled to be sent again")


class AttemptView(BaseModel):
    attempt: int = Field(description="1 for the first attempt of the message")
    started_at: datetime
    latency_ms: int
    status_code: int | None = Field(description="HTTP status, when the receiver answered")
    failure: str | None = Field(description="Failure code (DeliveryFailureReason)")
    error: str | None = Field(description="What went wrong, without any payload content")

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptView:
        return cls(**attempt.__dict__)


class DeliveryView(BaseModel):
    id: uuid.UUID
    webhook_id: str = Field(description="The `webhook-id` header: the same on every retry")
    channel: NotificationChannel
    audience: Audience
    endpoint_id: uuid.UUID | None
    email: str | None = Field(description="Recipient address of an e-mail delivery")
    contact_id: uuid.UUID | None = Field(
        description="The recipient registry entry the address came from (e-mail)"
    )
    language: str | None
    partner_id: uuid.UUID | None = Field(
        description="The partner the notification concerns: the recipient, or the referral's "
        "partner when a referrer or supervisors are told"
    )
    event_type: str
    trigger_event_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    case_id: uuid.UUID | None
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_failure: str | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryView:
        return cls(
            webhook_id=delivery.message_id,
            **{name: getattr(delivery, name) for name in cls.model_fields if name != "webhook_id"},
        )


class DeliveryDetail(DeliveryView):
    body: dict[str, Any] = Field(description="What was (or will be) sent")
    attempt_log: list[AttemptView] = Field(description="Every attempt, oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class EventTypeView(BaseModel):
    type: str = Field(examples=[ROUTED])
    description: str
    dataschema: str = Field(description="JSON Schema id of the event in the contracts")


class ContactCreate(Body):
    kind: Audience = Field(
        description="partner: a partner's address; referrer: a referring user's, by actor "
        "id (also where they hear about the cases they own); supervisors: a country's "
        "supervisors' address (escalations); team_supervisors: a team's supervisors' "
        "address (break-glass reads of its cases, approval requests); investigators: a "
        "partner's investigation focal point (PSEA allegations against it). case_owner is "
        "not registered: it is reached at the referrer entry"
    )
    partner_id: uuid.UUID | None = Field(
        default=None, description="For kind=partner and kind=investigators"
    )
    actor_id: ActorId | None = Field(
        default=None,
        description="For kind=referrer: the actor id found in events (default: yours)",
        examples=["caseworker:u-123"],
    )
    country: CountryCode | None = Field(default=None, description="For kind=supervisors")
    team: OrgUnitCode | None = Field(
        default=None,
        description="For kind=team_supervisors: the team code",
        examples=["ne-niamey-cm"],
    )
    email: str = Field(max_length=320, pattern=EMAIL_PATTERN, examples=["desk@ngo.example.org"])
    language: Language = Field(description="Language of the e-mails sent to this address")


class ContactUpdate(Body):
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    language: Language | None = None


class ContactView(BaseModel):
    id: uuid.UUID
    kind: Audience
    partner_id: uuid.UUID | None
    actor_id: str | None
    country: str | None
    team: str | None = None
    email: str
    language: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, contact: Contact) -> ContactView:
        return cls(
            id=contact.id,
            kind=contact.kind,
            partner_id=(
                uuid.UUID(contact.owner)
                if contact.kind in (Audience.PARTNER, Audience.INVESTIGATORS)
                else None
            ),
            actor_id=contact.owner if contact.kind is Audience.REFERRER else None,
            country=contact.owner if contact.kind is Audience.SUPERVISORS else None,
            team=contact.owner if contact.kind is Audience.TEAM_SUPERVISORS else None,
            email=contact.email,
            language=contact.language,
            created_at=contact.created_at,
            updated_at=contact.updated_at,
        )
