"""What a caller asks of the service: one command (or query) per use case, already parsed
and authenticated by the api; the use case decides whether the caller may."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from mpa_common.auth import Principal
from mpa_notification.app.scope import Scope
from mpa_notification.domain.messages import Language
from mpa_notification.domain.models import DeliveryFilter
from mpa_notification.domain.routing import Audience

# --- webhook endpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class CreateEndpoint:
    scope: Scope
    url: str
    event_types: tuple[str, ...]
    description: str = ""
    partner_id: uuid.UUID | None = None
    rate_limit_per_second: int | None = None
    max_in_flight: int | None = None


@dataclass(frozen=True)
class ListEndpoints:
    scope: Scope


@dataclass(frozen=True)
class GetEndpoint:
    scope: Scope
    endpoint_id: uuid.UUID


@dataclass(frozen=True)
class UpdateEndpoint:
    """A partial update: only fields that are set change."""

    scope: Scope
    endpoint_id: uuid.UUID
    url: str | None = None
    description: str | None = None
    event_types: tuple[str, ...] | None = None
    enabled: bool | None = None
    rate_limit_per_second: int | None = None
    max_in_flight: int | None = None
    clear_rate_limit: bool = False
    clear_max_in_flight: bool = False


@dataclass(frozen=True)
class DeleteEndpoint:
    scope: Scope
    endpoint_id: uuid.UUID


@dataclass(frozen=True)
class RotateSecret:
    scope: Scope
    endpoint_id: uuid.UUID
    grace_seconds: int | None = None  # None: the configured default


@dataclass(frozen=True)
class SendTest:
    scope: Scope
    endpoint_id: uuid.UUID


@dataclass(frozen=True)
class RecoverEndpoint:
    scope: Scope
    endpoint_id: uuid.UUID
    since: datetime


# --- the delivery log ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListDeliveries:
    scope: Scope
    where: DeliveryFilter
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class GetDelivery:
    scope: Scope
    delivery_id: uuid.UUID


@dataclass(frozen=True)
class RetryDelivery:
    scope: Scope
    delivery_id: uuid.UUID


# --- the recipient registry ------------------------------------------------------------------


@dataclass(frozen=True)
class AddContact:
    principal: Principal
    kind: Audience
    owner: str
    email: str
    language: Language


@dataclass(frozen=True)
class ListContacts:
    principal: Principal
    kind: Audience | None = None
    owner: str | None = None


@dataclass(frozen=True)
class UpdateContact:
    principal: Principal
    contact_id: uuid.UUID
    email: str | None = None
    language: Language | None = None


@dataclass(frozen=True)
class DeleteContact:
    principal: Principal
    contact_id: uuid.UUID
