"""Table rows to the domain's records and back (shared by the repositories and the queue)."""

from __future__ import annotations

from typing import Any, Protocol

from mpa_contracts.vocabularies import NotificationChannel
from mpa_notification.domain.models import (
    Contact,
    Delivery,
    DeliveryState,
    DisabledReason,
    Endpoint,
)
from mpa_notification.domain.routing import Audience


class Columns(Protocol):
    """A row by column name: SQLAlchemy's `row._mapping`, or an asyncpg Record."""

    def __getitem__(self, key: str, /) -> Any: ...


def endpoint_of(m: Columns) -> Endpoint:
    return Endpoint(
        id=m["id"],
        partner_id=m["partner_id"],
        url=m["url"],
        description=m["description"],
        event_types=tuple(m["event_types"]),
        enabled=m["enabled"],
        disabled_reason=DisabledReason(m["disabled_reason"]) if m["disabled_reason"] else None,
        rate_limit_per_second=m["rate_limit_per_second"],
        max_in_flight=m["max_in_flight"],
        secret=m["secret"],
        previous_secret=m["previous_secret"],
        previous_secret_expires_at=m["previous_secret_expires_at"],
        failing_since=m["failing_since"],
        consecutive_failures=m["consecutive_failures"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def endpoint_values(endpoint: Endpoint) -> dict[str, Any]:
    """What may change of an endpoint after it was created."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason.value if endpoint.disabled_reason else None,
        "rate_limit_per_second": endpoint.rate_limit_per_second,
        "max_in_flight": endpoint.max_in_flight,
        "secret": endpoint.secret,
        "previous_secret": endpoint.previous_secret,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "failing_since": endpoint.failing_since,
        "consecutive_failures": endpoint.consecutive_failures,
    }


def delivery_of(m: Columns) -> Delivery:
    return Delivery(
        id=m["id"],
        channel=NotificationChannel(m["channel"]),
        audience=Audience(m["audience"]),
        endpoint_id=m["endpoint_id"],
        email=m["email"],
        contact_id=m["contact_id"],
        language=m["language"],
        partner_id=m["partner_id"],
        event_type=m["event_type"],
        trigger_event_id=m["trigger_event_id"],
        correlation_id=m["correlation_id"],
        referral_id=m["referral_id"],
        case_id=m["case_id"],
        body=m["body"],
        state=DeliveryState(m["state"]),
        attempts=m["attempts"],
        schedule_position=m["schedule_position"],
        next_attempt_at=m["next_attempt_at"],
        last_failure=m["last_failure"],
        last_status_code=m["last_status_code"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        delivered_at=m["delivered_at"],
    )


def contact_of(m: Columns) -> Contact:
    return Contact(
        id=m["id"],
        kind=Audience(m["kind"]),
        owner=m["owner"],
        email=m["email"],
        language=m["language"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )
