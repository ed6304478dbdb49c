"""Records the service works with (plain data; the adapters map them to tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.domain.errors import Conflict, Forbidden
from mpa_notification.domain.routing import Audience

_T = TypeVar("_T")


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
    ADMINISTRATOR_REQUEST = "administrator_request"
    PARTNER_DEACTIVATED = "partner_deactivated"


# Decisions about the partner, not about its endpoint: the partner may not undo them.
ADMINISTRATOR_ONLY_REASONS = frozenset(
    {DisabledReason.PARTNER_DEACTIVATED, DisabledReason.ADMINISTRATOR_REQUEST}
)


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

    @classmethod
    def register(
        cls,
        *,
        id: uuid.UUID,
        partner_id: uuid.UUID,
        url: str,
        event_types: tuple[str, ...],
        secret: bytes,
        at: datetime,
        description: str = "",
        rate_limit_per_second: int | None = None,
        max_in_flight: int | None = None,
    ) -> Endpoint:
        """A new endpoint: enabled, healthy, with one (sealed) signing secret."""
        return cls(
            id=id,
            partner_id=partner_id,
            url=url,
            description=description,
            event_types=event_types,
            enabled=True,
            disabled_reason=None,
            rate_limit_per_second=rate_limit_per_second,
            max_in_flight=max_in_flight,
            secret=secret,
            previous_secret=None,
            previous_secret_expires_at=None,
            failing_since=None,
            consecutive_failures=0,
            created_at=at,
            updated_at=at,
        )

    @property
    def is_healthy(self) -> bool:
        return self.failing_since is None and not self.consecutive_failures

    def disabled(self, reason: DisabledReason) -> Endpoint:
        return replace(self, enabled=False, disabled_reason=reason)

    def enabled_again(self, *, by_administrator: bool, partner_active: bool) -> Endpoint:
        """The endpoint in use again, its failure run forgotten (a fresh start).

        A partner may lift its own disabling and the platform's verdicts on the endpoint
        (410, failures); not an administrator's, nor the partner's deactivation. Nobody
        enables an endpoint of a deactivated partner.
        """
        if self.enabled:
            return self
        if not by_administrator and self.disabled_reason in ADMINISTRATOR_ONLY_REASONS:
            raise Forbidden("Only an administrator can enable an endpoint disabled for this reason")
        if not partner_active:
            raise Conflict("The partner is deactivated: its endpoints stay disabled")
        return replace(
            self, enabled=True, disabled_reason=None, failing_since=None, consecutive_failures=0
        )


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
class NewDelivery:
    """A delivery to be queued (the store stamps its times and starts it pending)."""

    id: uuid.UUID
    channel: NotificationChannel
    audience: Audience
    partner_id: uuid.UUID | None
    event_type: str
    body: dict[str, Any]
    next_attempt_at: datetime
    endpoint_id: uuid.UUID | None = None
    email: str | None = None
    contact_id: uuid.UUID | None = None
    language: str | None = None
    trigger_event_id: uuid.UUID | None = None
    correlation_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Claimed:
    """A delivery a dispatcher leased for one attempt, with its endpoint (webhooks)."""

    delivery: Delivery
    endpoint: Endpoint | None


@dataclass(frozen=True)
class Claim:
    """What one claim leased, and when the next delivery it left is due."""

    claimed: list[Claimed]
    # Seconds until the earliest pending delivery a claim could take, besides those just
    # leased, is due (<= 0: due now, its lane full), counting the leases' ends; None when
    # nothing is pending.
    next_due_in: float | None


@dataclass(frozen=True)
class ReferralFacts:
    """What one referral event tells of its referral (None: not said, keep what is known)."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    state: str | None = None
    referrer_actor_id: str | None = None
    country: str | None = None
    partner_id: uuid.UUID | None = None

    def then(self, later: ReferralFacts) -> ReferralFacts:
        """These facts updated by a later event's: what it says wins, the rest stays."""
        return ReferralFacts(
            self.referral_id,
            self.case_id,
            _known(later.state, self.state),
            _known(later.referrer_actor_id, self.referrer_actor_id),
            _known(later.country, self.country),
            _known(later.partner_id, self.partner_id),
        )


def _known(later: _T | None, earlier: _T | None) -> _T | None:
    return later if later is not None else earlier


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
