"""A referral of one need of one case to one partner service at a time: the aggregate.

Its methods are the lifecycle's actions. Each checks that the action is legal in the
referral's state (IllegalTransition otherwise), changes what the action changes, and
records what happened as a `Change`: the contract event that announces it, the history
entry it leaves (who, from which state to which, the reason code, the free-text note, the
partner it concerns) and its bookkeeping (the routing attempt it decided or answered, the
place it gave back, the deadline it set). The application layer saves the referral and
every recorded change in one transaction. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from uuid import UUID

from mpa_contracts.events.base import EventData
from mpa_contracts.events.referral import (
    ExclusionCount,
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralConsentOverrideUsedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralOnHoldV1,
    ReferralRequestedV1,
    ReferralReroutedV1,
    ReferralResumedV1,
    ReferralRoutedV1,
    ReferralSlaBreachedV1,
    ReferralStartedV1,
    ReferralUnroutableV1,
    RoutingCandidate,
    RoutingExplanation,
)
from mpa_contracts.vocabularies import (
    CancelReason,
    ConsentOverrideReason,
    HoldReason,
    NeedCategory,
    OutcomeCode,
    ReferralState,
    ReferralStatusReason,
    RerouteCause,
    SlaMilestone,
    UnroutableReason,
    Urgency,
)
from mpa_referral.domain.actors import SYSTEM, Actor
from mpa_referral.domain.cases import CaseNeed
from mpa_referral.domain.errors import Conflict
from mpa_referral.domain.lifecycle import (
    OPEN_STATES,
    Action,
    AttemptResponse,
    next_state,
)
from mpa_referral.domain.mandatory import MandatoryRule, is_statutory
from mpa_referral.domain.routing import CandidateEvaluation, RoutingDecision

MAX_EXPLAINED_CANDIDATES = 20  # the event's explanation is bounded; the attempt keeps all

# Why a referral is where it is: unroutable, cancelled or failed (the state says which).
StatusReason = UnroutableReason | CancelReason | ReferralStatusReason


class _Holder(Enum):
    """Marks a history entry as concerning whichever partner holds the referral."""

    HOLDER = "holder"


@dataclass(frozen=True, slots=True)
class RoutingAttempt:
    """One routing of a referral: the explanation (every candidate considered, the rule that
    passed or failed it, its score) and what the chosen partner did with it."""

    attempt: int
    decided_at: datetime
    rule_set: str
    partner_id: UUID | None
    service_id: UUID | None
    candidates: tuple[CandidateEvaluation, ...]
    response: AttemptResponse | None = None
    responded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline the referral must meet at one attempt (a durable timer watches it)."""

    milestone: SlaMilestone
    due_at: datetime
    attempt: int


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a referral's history, as stored; who may read which is `disclosure`'s."""

    at: datetime
    actor_id: str
    actor_role: str
    from_state: ReferralState | None
    to_state: ReferralState
    event_type: str
    event_id: UUID
    reason: str | None
    note: str | None  # None when there was none, or once it was erased
    # The partner the entry concerns (routed to it, its answer, its work); None for the
    # referral's own milestones (requested, unroutable, cancelled before routing).
    partner_id: UUID | None
    note_erased: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that happened to a referral, not saved yet."""

    event: EventData
    from_state: ReferralState | None
    to_state: ReferralState
    actor: Actor
    partner_id: UUID | None  # the partner the history entry concerns (see HistoryEntry)
    reason: str | None = None
    note: str | None = None
    decided: RoutingAttempt | None = None  # a new routing attempt to store
    answered: AttemptResponse | None = None  # the answer to attempt number `attempt`
    attempt: int = 0
    released_place: UUID | None = None  # the service whose place the referral gave back
    deadline: Deadline | None = None  # a deadline set by this change


@dataclass(slots=True, eq=False)
class Referral:
    id: UUID
    case_id: UUID
    need_id: UUID
    category: NeedCategory
    urgency: Urgency
    country: str  # where the service is wanted
    state: ReferralState
    requested_by: str
    partner_id: UUID | None = None
    service_id: UUID | None = None
    holds_capacity: bool = False
    attempt: int = 0
    reroute_count: int = 0
    mandatory_rule: MandatoryRule | None = None
    chosen_service_id: UUID | None = None
    consent_override_reason: ConsentOverrideReason | None = None
    routed_at: datetime | None = None
    acceptance_due_at: datetime | None = None
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    status_reason: StatusReason | None = None
    outcome: OutcomeCode | None = None
    created_at: datetime | None = None  # None until the referral is first stored
    updated_at: datetime | None = None
    changes: list[Change] = field(default_factory=list)

    # ---- requesting ---------------------------------------------------------------------

    @classmethod
    def request(
        cls,
        referral_id: UUID,
        need: CaseNeed,
        *,
        country: str,
        actor: Actor,
        mandatory_rule: MandatoryRule | None = None,
        chosen_service_id: UUID | None = None,
        chosen_partner_id: UUID | None = None,
        override: ConsentOverrideReason | None = None,
    ) -> Referral:
        """A new referral of one need, waiting to be routed (`override`: a supervisor's
        reason to refer without consent)."""
        referral = cls(
            id=referral_id,
            case_id=need.case_id,
            need_id=need.need_id,
            category=need.category,
            urgency=need.urgency,
            country=country,
            state=ReferralState.REQUESTED,
            requested_by=actor.actor_id,
            mandatory_rule=mandatory_rule,
            chosen_service_id=chosen_service_id,
            consent_override_reason=override,
        )
        referral._record(
            ReferralRequestedV1(
                **referral._ids(),
                category=referral.category,
                urgency=referral.urgency,
                assistance_country=country,
                preferred_partner_id=chosen_partner_id,
                actor_id=actor.actor_id,
                actor_role=actor.role,
            ),
            None,
            actor,
        )
        if override is not None:
            referral._record(
                ReferralConsentOverrideUsedV1(
                    **referral._ids(),
                    reason=override,
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                ),
                referral.state,
                actor,
                reason=override.value,
            )
        return referral

    @property
    def statutory(self) -> bool:
        """Made by a mandatory rule that consent cannot waive (child protection)."""
        return is_statutory(self.mandatory_rule)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def rule_set(self) -> str:
        """The rules its routing follows, as the explanation names them."""
        if self.mandatory_rule is not None:
            return f"mandatory:{self.mandatory_rule.value}"
        return "chosen_service" if self.chosen_service_id else "standard"

    def pull_changes(self) -> list[Change]:
        """The changes recorded since the last call (the caller saves them)."""
        changes, self.changes = self.changes, []
        return changes

    # ---- routing ------------------------------------------------------------------------

    def route(
        self, decision: RoutingDecision, *, holds_capacity: bool, now: datetime, due: datetime
    ) -> None:
        """Hands the referral to the decision's chosen service (a place of it reserved when
        `holds_capacity`); the partner must accept or decline by `due`."""
        chosen = decision.chosen
        if chosen is None:
            raise Conflict("a routing decision without a chosen service cannot route")
        previous = self._move(Action.ROUTE)
        self.attempt += 1
        self.partner_id, self.service_id = chosen.partner_id, chosen.service_id
        self.holds_capacity = holds_capacity
        self.routed_at = now
        self.acceptance_due_at = due
        self.status_reason = None
        self._record(
            ReferralRoutedV1(
                **self._ids(),
                category=self.category,
                urgency=self.urgency,
                partner_id=chosen.partner_id,
                service_id=chosen.service_id,
                attempt=self.attempt,
                acceptance_due_at=due,
                explanation=explanation_of(decision),
            ),
            previous,
            SYSTEM,
            decided=self._attempt_of(decision, now),
            deadline=Deadline(SlaMilestone.ACCEPTANCE, due, self.attempt),
        )

    def give_up(self, reason: UnroutableReason, decision: RoutingDecision, now: datetime) -> None:
        """No service could take it: unroutable, until the directory changes."""
        previous = self._move(Action.GIVE_UP)
        self.attempt += 1
        self.status_reason = reason
        self._record(
            ReferralUnroutableV1(
                **self._ids(),
                category=self.category,
                urgency=self.urgency,
                reason=reason,
                attempts=self.attempt,
                exclusions=exclusions_of(decision),
            ),
            previous,
            SYSTEM,
            reason=reason.value,
            decided=self._attempt_of(decision, now),
        )

    def reroute(self, cause: RerouteCause) -> None:
        """Back to routing: it was declined, missed its SLA, or its partner or service left
        the directory (an unanswered routing then ends without counting against it)."""
        partner_id, service_id = self.partner_id, self.service_id
        if partner_id is None or service_id is None:
            raise Conflict("only a referral a partner held can be re-routed")
        released = self._give_back_place()
        previous = self._move(Action.REROUTE)
        answered = (
            AttemptResponse.CANCELLED
            if previous is ReferralState.ROUTED and cause is not RerouteCause.SLA_BREACHED
            else None
        )
        self.reroute_count += 1
        self.partner_id = self.service_id = None
        self.routed_at = self.acceptance_due_at = self.accepted_at = None
        self._record(
            ReferralReroutedV1(
                **self._ids(),
                previous_partner_id=partner_id,
                previous_service_id=service_id,
                cause=cause,
                reroute_count=self.reroute_count,
            ),
            previous,
            SYSTEM,
            partner_id=partner_id,
            reason=cause.value,
            answered=answered,
            released_place=released,
        )

    # ---- the partner's and the referrer's actions -------------------------------------

    def accept(self, actor: Actor, *, now: datetime, start_due: datetime, note: str | None) -> None:
        previous = self._move(Action.ACCEPT)
        self.accepted_at = now
        self._record(
            ReferralAcceptedV1(**self._held(actor), start_due_at=start_due),
            previous,
            actor,
            note=note,
            answered=AttemptResponse.ACCEPTED,
            deadline=Deadline(SlaMilestone.SERVICE_START, start_due, self.attempt),
        )

    def decline(self, actor: Actor, reason: ReferralStatusReason, *, note: str | None) -> None:
        """The partner turns it down; the caller re-routes it (`reroute`)."""
        held = self._held(actor)
        released = self._give_back_place()
        previous = self._move(Action.DECLINE)
        self._record(
            ReferralDeclinedV1(**held, reason=reason, attempt=self.attempt),
            previous,
            actor,
            reason=reason.value,
            note=note,
            answered=AttemptResponse.DECLINED,
            released_place=released,
        )

    def start(self, actor: Actor, *, note: str | None) -> None:
        previous = self._move(Action.START)
        self._record(ReferralStartedV1(**self._held(actor)), previous, actor, note=note)

    def hold(self, actor: Actor, reason: HoldReason, *, note: str | None) -> None:
        previous = self._move(Action.HOLD)
        self._record(
            ReferralOnHoldV1(**self._held(actor), reason=reason),
            previous,
            actor,
            reason=reason.value,
            note=note,
        )

    def resume(self, actor: Actor, *, note: str | None) -> None:
        previous = self._move(Action.RESUME)
        self._record(ReferralResumedV1(**self._held(actor)), previous, actor, note=note)

    def complete(
        self, actor: Actor, outcome: OutcomeCode, *, now: datetime, note: str | None
    ) -> None:
        held = self._held(actor)
        previous = self._move(Action.COMPLETE)
        released = self._close(now)
        self.outcome = outcome
        self._record(
            ReferralCompletedV1(**held, outcome=outcome),
            previous,
            actor,
            reason=outcome.value,
            note=note,
            released_place=released,
        )

    def fail(
        self, actor: Actor, reason: ReferralStatusReason, *, now: datetime, note: str | None
    ) -> None:
        held = self._held(actor)
        previous = self._move(Action.FAIL)
        released = self._close(now)
        self.status_reason = reason
        self._record(
            ReferralFailedV1(**held, reason=reason),
            previous,
            actor,
            reason=reason.value,
            note=note,
            released_place=released,
        )

    def cancel(
        self, actor: Actor, reason: CancelReason, *, now: datetime, note: str | None = None
    ) -> None:
        """The referring side (or a cascade, as SYSTEM) stops it, wherever it is."""
        partner_id = self.partner_id
        previous = self._move(Action.CANCEL)
        released = self._close(now)
        self.status_reason = reason
        self._record(
            ReferralCancelledV1(
                **self._ids(),
                reason=reason,
                partner_id=partner_id,
                actor_id=actor.actor_id,
                actor_role=actor.role,
            ),
            previous,
            actor,
            partner_id=partner_id,
            reason=reason.value,
            note=note,
            answered=AttemptResponse.CANCELLED if previous is ReferralState.ROUTED else None,
            released_place=released,
        )

    # ---- deadlines ------------------------------------------------------------------------

    def awaits(self, state: ReferralState, attempt: int) -> bool:
        """Whether a deadline set at `attempt` in `state` still stands (nothing moved it on)."""
        return self.state is state and self.attempt == attempt

    def breach_acceptance_sla(self) -> None:
        """The partner neither accepted nor declined in time (the caller re-routes it)."""
        if self.state is not ReferralState.ROUTED or self.acceptance_due_at is None:
            raise Conflict("only a routed referral can miss its acceptance deadline")
        self._breach(SlaMilestone.ACCEPTANCE, self.acceptance_due_at, AttemptResponse.SLA_BREACHED)

    def breach_start_sla(self, due_at: datetime) -> None:
        """Accepted, but not started in time: announced, not re-routed (whether to move the
        person is for the referrer or a supervisor, whom the event alerts)."""
        if self.state is not ReferralState.ACCEPTED:
            raise Conflict("only an accepted referral can miss its start deadline")
        self._breach(SlaMilestone.SERVICE_START, due_at, None)

    # ---- internals ----------------------------------------------------------------------

    def _breach(
        self, milestone: SlaMilestone, due_at: datetime, answered: AttemptResponse | None
    ) -> None:
        assert self.partner_id is not None
        assert self.service_id is not None
        self._record(
            ReferralSlaBreachedV1(
                **self._ids(),
                urgency=self.urgency,
                partner_id=self.partner_id,
                service_id=self.service_id,
                milestone=milestone,
                due_at=due_at,
            ),
            self.state,
            SYSTEM,
            reason=milestone.value,
            answered=answered,
        )

    def _move(self, action: Action) -> ReferralState:
        previous = self.state
        self.state = next_state(previous, action)
        return previous

    def _give_back_place(self) -> UUID | None:
        """The service whose place this referral held, now free again (None if none)."""
        released = self.service_id if self.holds_capacity else None
        self.holds_capacity = False
        return released

    def _close(self, now: datetime) -> UUID | None:
        self.closed_at = now
        return self._give_back_place()

    def _ids(self) -> dict[str, UUID]:
        return {"referral_id": self.id, "case_id": self.case_id, "need_id": self.need_id}

    def _held(self, actor: Actor) -> dict[str, object]:
        """What every event of the holder's work says: the referral, holder and actor."""
        assert self.partner_id is not None
        assert self.service_id is not None
        return {
            **self._ids(),
            "partner_id": self.partner_id,
            "service_id": self.service_id,
            "actor_id": actor.actor_id,
            "actor_role": actor.role,
        }

    def _attempt_of(self, decision: RoutingDecision, now: datetime) -> RoutingAttempt:
        chosen = decision.chosen if self.state is ReferralState.ROUTED else None
        return RoutingAttempt(
            attempt=self.attempt,
            decided_at=now,
            rule_set=self.rule_set,
            partner_id=chosen.partner_id if chosen else None,
            service_id=chosen.service_id if chosen else None,
            candidates=decision.evaluations,
        )

    def _record(
        self,
        event: EventData,
        from_state: ReferralState | None,
        actor: Actor,
        *,
        partner_id: UUID | _Holder | None = _Holder.HOLDER,
        reason: str | None = None,
        note: str | None = None,
        decided: RoutingAttempt | None = None,
        answered: AttemptResponse | None = None,
        released_place: UUID | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.changes.append(
            Change(
                event=event,
                from_state=from_state,
                to_state=self.state,
                actor=actor,
                # Unless told otherwise, an entry concerns the partner holding the referral.
                partner_id=self.partner_id if isinstance(partner_id, _Holder) else partner_id,
                reason=reason,
                note=note or None,
                decided=decided,
                answered=answered,
                attempt=self.attempt,
                released_place=released_place,
                deadline=deadline,
            )
        )


def explanation_of(decision: RoutingDecision) -> RoutingExplanation:
    """Why routing chose what it chose, as the event carries it: codes and numbers only."""
    return RoutingExplanation(
        candidates=tuple(
            RoutingCandidate(
                service_id=e.service_id,
                partner_id=e.partner_id,
                rank=e.rank or 0,
                score=e.score or 0.0,
            )
            for e in decision.ranked[:MAX_EXPLAINED_CANDIDATES]
        ),
        exclusions=exclusions_of(decision),
    )


def exclusions_of(decision: RoutingDecision) -> tuple[ExclusionCount, ...]:
    return tuple(
        ExclusionCount(reason=reason, count=count)
        for reason, count in sorted(decision.exclusion_counts().items())
    )
