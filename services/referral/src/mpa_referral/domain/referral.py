"""A referral of one need of one case to one partner service at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mpa_contracts.vocabularies import NeedCategory, ReferralState, Urgency
from mpa_referral.domain.lifecycle import HOLDS_CAPACITY, Action, next_state


@dataclass(slots=True)
class Referral:
    id: UUID
    case_id: UUID
    need_id: UUID
    category: NeedCategory
    urgency: Urgency
    country: str
    state: ReferralState
    requested_by: str
    partner_id: UUID | None = None
    service_id: UUID | None = None
    holds_capacity: bool = False
    attempt: int = 0
    reroute_count: int = 0
    mandatory_rule: str | None = None
    chosen_service_id: UUID | None = None
    consent_override_reason: str | None = None
    routed_at: datetime | None = None
    acceptance_due_at: datetime | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    status_reason: str | None = None
    outcome: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def apply(self, action: Action) -> ReferralState:
        """Moves to the state the action leads to; raises IllegalTransition. Returns the old."""
        previous = self.state
        self.state = next_state(self.state, action)
        return previous

    @property
    def releases_capacity_on_exit(self) -> bool:
        return self.holds_capacity and self.state in HOLDS_CAPACITY
