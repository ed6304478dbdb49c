"""Who causes a change: a verified principal, or this service acting on a rule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mpa_contracts.vocabularies import ActorRole


@dataclass(frozen=True, slots=True)
class Actor:
    actor_id: str  # pseudonymous: `<role>:<subject>`
    role: ActorRole
    # The partner whose staff act; None for everyone else (an admin acts for no partner).
    partner_id: uuid.UUID | None = None


SYSTEM = Actor("system:referral", ActorRole.SYSTEM)
