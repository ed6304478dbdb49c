"""Records the service works with (plain data; the adapters map them to tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.domain.routing import Audience


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being attempted)
    DELIVERED = "delivered"
    FAILED = "failed"  # attempts spent, or its endpoint was disabled or deleted


class DisabledReason(StrEnum):
    """Why an endpoint stopped receiving (the codes of the contracts' EndpointDisabledReason
    that this service decides)."""

    CONSECUTIVE_FAILURES = "consecutive_failures"
    GONE = "gone"  # the receiver answered 410 Gone
    PARTNER_REQUEST = "partner_request"
    PARTNER_DEACTIVATED = "partner_deactivated"


@dataclass(frozen=True)
class Endpoint:
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: DisabledReason | None
    rate_limit_per_second: int | None
    max_in_flight: int | None
    secret: bytes
    previous_secret: bytes | None
    previous_secret_expires_at: datetime | None
    failing_since: datetime | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Contact:
    id: uuid.UUID
    kind: Audience
    owner: str
    email: str
    language: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    channel: NotificationChannel
    audience: Audience
    endpoint_id: uuid.UUID | None
    email: str | None
    contact_id: uuid.UUID | None
    language: str | None
    partner_id: uuid.UUID | None  # the partner the notification concerns, if any
    event_type: str
    trigger_event_id: uuid.UUID | None
    correlation_id: uuid.UUID | None
    referral_id: uuid.UUID | None
    case_id: uuid.UUID | None
    body: dict[str, Any]
    state: DeliveryState
    attempts: int
    schedule_position: int
    next_attempt_at: datetime | None
    last_failure: str | None
    last_status_code: int | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None

    @property
    def message_id(self) -> str:
        """The `webhook-id`: one per message, the same on every retry of it."""
        return f"msg_{self.id.hex}"


@dataclass(frozen=True)
class Attempt:
    attempt: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    failure: str | None
    error: str | None


@dataclass(frozen=True)
class KnownReferral:
    referral_id: uuid.UUID
    case_id: uuid.UUID
    referrer_actor_id: str | None
    country: str | None
    partner_id: uuid.UUID | None


@dataclass(frozen=True)
class DeliveryFilter:
    partner_id: uuid.UUID | None = None  # a partner's view: only its own
    endpoint_id: uuid.UUID | None = None
    state: DeliveryState | None = None
    event_type: str | None = None
    channel: NotificationChannel | None = None
    referral_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
