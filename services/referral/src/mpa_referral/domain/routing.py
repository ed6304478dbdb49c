"""Explainable routing of one need to one service: hard filters, then a deterministic score.

Pure: the caller loads the candidate services (those of the need's category that cover the
target country) and the partners' track record, and stores the decision. Every candidate
considered comes back with the rule that passed or failed it; eligible ones with a score
in [0, 1] and a rank (score descending, then service id: a stable tie-break).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    NeedCategory,
    PartnerType,
    RoutingExclusionReason,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.domain.directory import DesignationRole, ServiceListing, covering_area


class RoutingRule(StrEnum):
    """The rule that decided a candidate's fate; `eligible` when every hard filter passed."""

    ELIGIBLE = "eligible"
    CATEGORY_MISMATCH = "category_mismatch"
    NOT_CHOSEN = "not_chosen"  # a referral to a chosen service considers only that one
    SERVICE_NOT_ACTIVE = "service_not_active"
    PREVIOUSLY_TRIED = "previously_tried"
    OUTSIDE_COVERAGE = "outside_coverage"
    NOT_DESIGNATED = "not_designated"
    AGE_BAND_NOT_SERVED = "age_band_not_served"
    SEX_NOT_SERVED = "sex_not_served"
    NATIONALITY_NOT_SERVED = "nationality_not_served"
    VULNERABILITY_NOT_SERVED = "vulnerability_not_served"
    NO_CAPACITY = "no_capacity"
    CONSENT_REFUSED_PARTNER = "consent_refused_partner"
    CONSENT_REFUSED_PARTNER_TYPE = "consent_refused_partner_type"


# How each failed rule is counted in the routing explanation that crosses Kafka.
EXCLUSION_REASON: Mapping[RoutingRule, RoutingExclusionReason] = {
    RoutingRule.CATEGORY_MISMATCH: RoutingExclusionReason.CATEGORY_MISMATCH,
    RoutingRule.NOT_CHOSEN: RoutingExclusionReason.NOT_CHOSEN,
    RoutingRule.SERVICE_NOT_ACTIVE: RoutingExclusionReason.SERVICE_NOT_ACTIVE,
    RoutingRule.PREVIOUSLY_TRIED: RoutingExclusionReason.PREVIOUSLY_DECLINED,
    RoutingRule.OUTSIDE_COVERAGE: RoutingExclusionReason.OUTSIDE_COVERAGE,
    RoutingRule.NOT_DESIGNATED: RoutingExclusionReason.NOT_DESIGNATED,
    RoutingRule.AGE_BAND_NOT_SERVED: RoutingExclusionReason.AGE_BAND_NOT_SERVED,
    RoutingRule.SEX_NOT_SERVED: RoutingExclusionReason.SEX_NOT_SERVED,
    RoutingRule.NATIONALITY_NOT_SERVED: RoutingExclusionReason.NATIONALITY_NOT_SERVED,
    RoutingRule.VULNERABILITY_NOT_SERVED: RoutingExclusionReason.VULNERABILITY_NOT_SERVED,
    RoutingRule.NO_CAPACITY: RoutingExclusionReason.NO_CAPACITY,
    RoutingRule.CONSENT_REFUSED_PARTNER: RoutingExclusionReason.CONSENT_REFUSED_PARTNER,
    RoutingRule.CONSENT_REFUSED_PARTNER_TYPE: RoutingExclusionReason.CONSENT_REFUSED_PARTNER_TYPE,
}

# Score weights (sum 1). Language first: a person who cannot talk to the provider is
# poorly served however free it is.
WEIGHTS: Mapping[str, float] = {
    "language": 0.35,
    "capacity": 0.20,
    "acceptance": 0.20,
    "response_time": 0.15,
    "area_specificity": 0.10,
}
NEUTRAL = 0.5  # the component value when nothing is known yet (no history, untracked capacity)
SECONDARY_LANGUAGE = 0.6  # another language the person speaks, not the preferred one
SCORE_DIGITS = 6  # rounding keeps the ranking identical across platforms


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A partner's track record so far; None where there is no history."""

    acceptance_rate: float | None = None  # accepted / (accepted + declined + expired)
    median_response_seconds: float | None = None  # from routed to accepted or declined


@dataclass(frozen=True, slots=True)
class RoutingRequest:
    """One need of one case, with what the filters read."""

    category: NeedCategory
    urgency: Urgency
    country: str  # where help is wanted
    admin_area: str | None  # None when unknown or help is wanted in another country
    age_band: AgeBand
    sex: Sex
    nationality: str | None
    languages: tuple[str, ...]  # preferred first
    vulnerabilities: frozenset[Vulnerability]
    refused_partner_ids: frozenset[UUID] = frozenset()
    refused_partner_types: frozenset[PartnerType] = frozenset()
    excluded_service_ids: frozenset[UUID] = frozenset()  # tried before for this referral
    required_designation: DesignationRole | None = None  # a mandatory rule's target
    chosen_service_id: UUID | None = None  # a referral by hand to one service
    acceptance_window_seconds: float = 72 * 3600  # the SLA response times are measured by


@dataclass(frozen=True, slots=True)
class CandidateEvaluation:
    service_id: UUID
    partner_id: UUID
    rule: RoutingRule
    score: float | None = None
    components: Mapping[str, float] = field(default_factory=dict)
    rank: int | None = None

    @property
    def eligible(self) -> bool:
        return self.rule is RoutingRule.ELIGIBLE


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    ranked: tuple[CandidateEvaluation, ...]  # eligible, best first (rank 1..n)
    excluded: tuple[CandidateEvaluation, ...]  # in the order considered

    @property
    def chosen(self) -> CandidateEvaluation | None:
        return self.ranked[0] if self.ranked else None

    @property
    def evaluations(self) -> tuple[CandidateEvaluation, ...]:
        return self.ranked + self.excluded

    def exclusion_counts(self) -> dict[RoutingExclusionReason, int]:
        return dict(Counter(EXCLUSION_REASON[e.rule] for e in self.excluded))

    def without(self, service_id: UUID, rule: RoutingRule) -> RoutingDecision:
        """The decision once a ranked service turned out to fail `rule` (e.g. another
        routing took its last place meanwhile): it moves to the excluded, ranks close up."""
        lost = next(e for e in self.ranked if e.service_id == service_id)
        kept = [e for e in self.ranked if e.service_id != service_id]
        ranked = tuple(
            CandidateEvaluation(e.service_id, e.partner_id, e.rule, e.score, e.components, rank)
            for rank, e in enumerate(kept, start=1)
        )
        return RoutingDecision(
            ranked, (CandidateEvaluation(lost.service_id, lost.partner_id, rule), *self.excluded)
        )


def route(
    request: RoutingRequest,
    services: Iterable[ServiceListing],
    records: Mapping[UUID, PartnerRecord],
) -> RoutingDecision:
    """Evaluates every service against the request and ranks the eligible ones."""
    scored: list[CandidateEvaluation] = []
    excluded: list[CandidateEvaluation] = []
    for service in services:
        failed = first_failed_rule(request, service)
        if failed is not None:
            excluded.append(CandidateEvaluation(service.service_id, service.partner_id, failed))
            continue
        components = score_components(
            request, service, records.get(service.partner_id, PartnerRecord())
        )
        score = round(sum(WEIGHTS[name] * value for name, value in components.items()), 6)
        scored.append(
            CandidateEvaluation(
                service.service_id, service.partner_id, RoutingRule.ELIGIBLE, score, components
            )
        )
    scored.sort(key=lambda e: (-(e.score or 0.0), e.service_id))
    ranked = tuple(
        CandidateEvaluation(e.service_id, e.partner_id, e.rule, e.score, e.components, rank)
        for rank, e in enumerate(scored, start=1)
    )
    return RoutingDecision(ranked, tuple(excluded))


def first_failed_rule(request: RoutingRequest, service: ServiceListing) -> RoutingRule | None:
    """The first hard filter the service fails, in a fixed order; None when it passes all."""
    if service.category is not request.category:
        return RoutingRule.CATEGORY_MISMATCH
    if request.chosen_service_id is not None and service.service_id != request.chosen_service_id:
        return RoutingRule.NOT_CHOSEN
    if service.status is not ServiceStatus.ACTIVE or not service.partner_active:
        return RoutingRule.SERVICE_NOT_ACTIVE
    if service.service_id in request.excluded_service_ids:
        return RoutingRule.PREVIOUSLY_TRIED
    if covering_area(service.coverage, request.country, request.admin_area) is None:
        return RoutingRule.OUTSIDE_COVERAGE
    if request.required_designation is not None and not service.designated(
        request.required_designation, request.country, request.admin_area
    ):
        return RoutingRule.NOT_DESIGNATED
    eligibility = service.eligibility
    if not eligibility.serves_age_band(request.age_band):
        return RoutingRule.AGE_BAND_NOT_SERVED
    if not eligibility.serves_sex(request.sex):
        return RoutingRule.SEX_NOT_SERVED
    if not eligibility.serves_nationality(request.nationality):
        return RoutingRule.NATIONALITY_NOT_SERVED
    if not eligibility.serves_vulnerabilities(request.vulnerabilities):
        return RoutingRule.VULNERABILITY_NOT_SERVED
    if service.capacity_available is not None and service.capacity_available <= 0:
        return RoutingRule.NO_CAPACITY
    if service.partner_id in request.refused_partner_ids:
        return RoutingRule.CONSENT_REFUSED_PARTNER
    if service.partner_type in request.refused_partner_types:
        return RoutingRule.CONSENT_REFUSED_PARTNER_TYPE
    return None


def score_components(
    request: RoutingRequest, service: ServiceListing, record: PartnerRecord
) -> dict[str, float]:
    """Each score component in [0, 1]; the score is their weighted sum."""
    if request.languages and request.languages[0] in service.languages:
        language = 1.0
    elif service.languages.intersection(request.languages):
        language = SECONDARY_LANGUAGE
    else:
        language = 0.0

    if service.capacity_available is None:
        capacity = NEUTRAL
    elif service.capacity_total:
        capacity = min(service.capacity_available / service.capacity_total, 1.0)
    else:
        capacity = min(service.capacity_available / 10, 1.0)

    acceptance = NEUTRAL if record.acceptance_rate is None else record.acceptance_rate
    if record.median_response_seconds is None:
        response_time = NEUTRAL
    else:
        window = max(request.acceptance_window_seconds, 1.0)
        response_time = 1.0 - min(record.median_response_seconds / window, 1.0)

    area = covering_area(service.coverage, request.country, request.admin_area)
    if area is None:  # unreachable after the filters; kept total for direct callers
        area_specificity = 0.0
    elif area.nationwide:
        area_specificity = 0.5
    else:
        area_specificity = 1.0 if request.admin_area in area.admin_areas else 0.25
    return {
        "language": language,
        "capacity": round(capacity, SCORE_DIGITS),
        "acceptance": round(acceptance, SCORE_DIGITS),
        "response_time": round(response_time, SCORE_DIGITS),
        "area_specificity": area_specificity,
    }
