"""What every use case of the referral service shares: who acts, which story, emitting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mpa_common.auth import Principal
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.vocabularies import ActorRole

SOURCE = "urn:mpa:service:referral"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who causes a change: a verified principal, or this service acting on a rule."""

    actor_id: str
    role: ActorRole
    partner_id: uuid.UUID | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.actor_id, principal.primary_role, principal.partner_id)


SYSTEM = Actor("system:referral", ActorRole.SYSTEM)


@dataclass(frozen=True, slots=True)
class Cause:
    """The story an event belongs to (correlation) and the event that caused it, if any."""

    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> Cause:
        return cls(envelope.correlation_id, envelope.id)


def emit(uow: UnitOfWork, data: EventData, cause: Cause, *, subject: str | None = None) -> Envelope:
    envelope = new_envelope(
        data,
        source=SOURCE,
        subject=subject,
        correlation_id=cause.correlation_id,
        causation_id=cause.causation_id,
    )
    uow.emit_envelope(envelope)
    return envelope
