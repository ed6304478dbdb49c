"""Events of the referral aggregate (topic `mpa.referral.v1`, key `case_id`).

Keyed by case, not by referral: every referral of a case is ordered with the case's own
events (consent withdrawn before the cancellations it causes). The lifecycle follows
HL7 FHIR Task; `REFERRAL_STATE_AFTER` says which state each event leads to.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from mpa_contracts.events.base import ActorEventData, ContractModel, EventData
from mpa_contracts.types import (
    CaseId,
    CountryCode,
    NeedId,
    PartnerId,
    ReferralId,
    ServiceId,
    UtcTimestamp,
)
from mpa_contracts.vocabularies import (
    CancelReason,
    ConsentOverrideReason,
    DeclineReason,
    FailureReason,
    HoldReason,
    NeedCategory,
    OutcomeCode,
    ReferralState,
    RerouteCause,
    RoutingExclusionReason,
    SlaMilestone,
    UnroutableReason,
    Urgency,
)


class RoutingCandidate(ContractModel):
    """One service routing considered eligible, with its rank (1 = chosen first)."""

    service_id: ServiceId
    partner_id: PartnerId
    rank: int = Field(ge=1)
    score: float = Field(ge=0.0, le=1.0)


class ExclusionCount(ContractModel):
    """How many services routing set aside for one reason."""

    reason: RoutingExclusionReason
    count: int = Field(ge=1)


def _one_count_per_reason(counts: tuple[ExclusionCount, ...]) -> tuple[ExclusionCount, ...]:
    if len({count.reason for count in counts}) != len(counts):
        raise ValueError("each exclusion reason may appear once")
    return counts


ExclusionCounts = Annotated[tuple[ExclusionCount, ...], AfterValidator(_one_count_per_reason)]


class RoutingExplanation(ContractModel):
    """Why routing chose what it chose, as numbers and codes only."""

    candidates: tuple[RoutingCandidate, ...] = Field(
        description="Eligible services, best first", max_length=20
    )
    exclusions: ExclusionCounts = ()

    @model_validator(mode="after")
    def _ranks_are_1_to_n(self) -> Self:
        ranks = [candidate.rank for candidate in self.candidates]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError("candidate ranks must be 1..n in order")
        return self


class ReferralRequestedV1(ActorEventData):
    """A caseworker asked for one need of a case to be referred."""

    event_type = "org.mpa.referral.requested.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    category: NeedCategory
    urgency: Urgency
    assistance_country: CountryCode = Field(description="Country where the service is wanted")
    preferred_partner_id: PartnerId | None = Field(
        default=None, description="Partner the caseworker asked for, if any"
    )


class ReferralRoutedV1(EventData):
    """Routing chose a partner service and the partner is being notified."""

    event_type = "org.mpa.referral.routed.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    category: NeedCategory
    urgency: Urgency
    partner_id: PartnerId
    service_id: ServiceId
    attempt: int = Field(ge=1, description="1 for the first routing, +1 for each re-route")
    acceptance_due_at: UtcTimestamp = Field(description="Partner must accept or decline by")
    explanation: RoutingExplanation

    @model_validator(mode="after")
    def _chosen_service_is_a_candidate(self) -> Self:
        if self.service_id not in {c.service_id for c in self.explanation.candidates}:
            raise ValueError("the chosen service must be among the candidates")
        return self


class ReferralUnroutableV1(EventData):
    """No eligible partner service could take the referral; a caseworker must act."""

    event_type = "org.mpa.referral.unroutable.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    category: NeedCategory
    urgency: Urgency
    reason: UnroutableReason
    attempts: int = Field(ge=0, description="Routings tried before giving up")
    exclusions: ExclusionCounts = ()


class ReferralAcceptedV1(ActorEventData):
    """The partner accepted the referral."""

    event_type = "org.mpa.referral.accepted.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId
    start_due_at: UtcTimestamp = Field(description="Service must start by")


class ReferralDeclinedV1(ActorEventData):
    """The partner declined the referral; routing will try the next candidate."""

    event_type = "org.mpa.referral.declined.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId
    reason: DeclineReason
    attempt: int = Field(ge=1)


class ReferralStartedV1(ActorEventData):
    """The partner started providing the service."""

    event_type = "org.mpa.referral.started.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId


class ReferralOnHoldV1(ActorEventData):
    """The partner paused work on the referral."""

    event_type = "org.mpa.referral.on_hold.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId
    reason: HoldReason


class ReferralResumedV1(ActorEventData):
    """The partner resumed work on a referral that was on hold."""

    event_type = "org.mpa.referral.resumed.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId


class ReferralCompletedV1(ActorEventData):
    """The partner finished the service."""

    event_type = "org.mpa.referral.completed.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId
    outcome: OutcomeCode


class ReferralFailedV1(ActorEventData):
    """The partner accepted but could not deliver the service."""

    event_type = "org.mpa.referral.failed.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    partner_id: PartnerId
    service_id: ServiceId
    reason: FailureReason


class ReferralCancelledV1(ActorEventData):
    """The referring side cancelled the referral (a `system` actor for automatic cascades)."""

    event_type = "org.mpa.referral.cancelled.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    reason: CancelReason
    partner_id: PartnerId | None = Field(
        default=None, description="Partner that held the referral; absent before routing"
    )


class ReferralSlaBreachedV1(EventData):
    """A referral missed a deadline; the referral service may re-route it."""

    event_type = "org.mpa.referral.sla_breached.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    urgency: Urgency
    partner_id: PartnerId
    service_id: ServiceId
    milestone: SlaMilestone
    due_at: UtcTimestamp


class ReferralReroutedV1(EventData):
    """The referral left its partner and goes back to routing; a `routed` event follows."""

    event_type = "org.mpa.referral.rerouted.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    previous_partner_id: PartnerId
    previous_service_id: ServiceId
    cause: RerouteCause
    reroute_count: int = Field(ge=1, description="Re-routes of this referral so far")


class ReferralConsentOverrideUsedV1(ActorEventData):
    """A supervisor referred without consent because a life or safety was at risk.

    Always audited; the reason is a code so that reports can count overrides by cause.
    """

    event_type = "org.mpa.referral.consent_override_used.v1"

    referral_id: ReferralId
    case_id: CaseId
    need_id: NeedId
    reason: ConsentOverrideReason


REFERRAL_EVENTS: tuple[type[EventData], ...] = (
    ReferralRequestedV1,
    ReferralRoutedV1,
    ReferralUnroutableV1,
    ReferralAcceptedV1,
    ReferralDeclinedV1,
    ReferralStartedV1,
    ReferralOnHoldV1,
    ReferralResumedV1,
    ReferralCompletedV1,
    ReferralFailedV1,
    ReferralCancelledV1,
    ReferralSlaBreachedV1,
    ReferralReroutedV1,
    ReferralConsentOverrideUsedV1,
)

# State a referral is in after each event; events absent here do not change the state.
REFERRAL_STATE_AFTER: Mapping[type[EventData], ReferralState] = MappingProxyType(
    {
        ReferralRequestedV1: ReferralState.REQUESTED,
        ReferralRoutedV1: ReferralState.ROUTED,
        ReferralUnroutableV1: ReferralState.UNROUTABLE,
        ReferralAcceptedV1: ReferralState.ACCEPTED,
        ReferralDeclinedV1: ReferralState.DECLINED,
        ReferralStartedV1: ReferralState.IN_PROGRESS,
        ReferralOnHoldV1: ReferralState.ON_HOLD,
        ReferralResumedV1: ReferralState.IN_PROGRESS,
        ReferralCompletedV1: ReferralState.COMPLETED,
        ReferralFailedV1: ReferralState.FAILED,
        ReferralCancelledV1: ReferralState.CANCELLED,
        ReferralReroutedV1: ReferralState.REQUESTED,
    }
)
