"""Explainable routing of one need to one service: hard filters, then a deterministic score.

Pure: the caller loads the candidate services (those of the need's category that cover the
target country) and the partners' track record, and stores the decision. Every candidate
considered comes back with the rule that passed or failed it; eligible ones with a score
in [0, 1] and a rank (score descending, then service id: a stable tie-break).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    NeedCategory,
    PartnerType,
    RoutingExclusionReason,
    ServiceStatus,
    Sex,
    UnroutableReason,
    Urgency,
    Vulnerability,
)
from mpa_referral.domain.cases import CaseProfile
from mpa_referral.domain.directory import Area, DesignationRole, ServiceListing, covering_area
from mpa_referral.domain.mandatory import RULES, MandatoryRule, is_statutory


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
    excluded_service_ids: frozenset[UUID] = frozenset()  # turned this referral down before
    required_designation: DesignationRole | None = None  # a mandatory rule's target
    chosen_service_id: UUID | None = None  # a referral by hand to one service
    acceptance_window_seconds: float = 72 * 3600  # the SLA response times are measured by


NO_COMPONENTS: Mapping[str, float] = MappingProxyType({})  # an excluded candidate's


class CandidateEvaluation(NamedTuple):
    """One candidate's fate. A named tuple rather than a dataclass: routing makes one per
    candidate on its hot path, and a tuple is several times cheaper to build."""

    service_id: UUID
    partner_id: UUID
    rule: RoutingRule
    score: float | None = None
    components: Mapping[str, float] = NO_COMPONENTS
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

    def unroutable_reason(self) -> UnroutableReason:
        """Why nothing could be chosen, when nothing was."""
        if not self.excluded:
            return UnroutableReason.NO_MATCHING_SERVICE
        if all(e.rule is RoutingRule.PREVIOUSLY_TRIED for e in self.excluded):
            return UnroutableReason.ALL_CANDIDATES_DECLINED
        return UnroutableReason.ALL_CANDIDATES_EXCLUDED

    def rule_for(self, service_id: UUID) -> RoutingRule | None:
        """The rule that decided one service's fate; None when it was not considered."""
        return next((e.rule for e in self.evaluations if e.service_id == service_id), None)

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


NO_DECISION = RoutingDecision((), ())  # what a referral given up before routing records


def request_for(
    case: CaseProfile,
    *,
    category: NeedCategory,
    urgency: Urgency,
    country: str,
    rule: MandatoryRule | None,
    acceptance_window_seconds: float,
    excluded: frozenset[UUID] = frozenset(),
    chosen_service_id: UUID | None = None,
) -> RoutingRequest:
    """What routing reads of a case for one need (`rule`: the mandatory rule behind it)."""
    mandatory = RULES[rule] if rule is not None else None
    # A statutory referral is made whatever the person refused; otherwise refusals hold,
    # also under a supervisor's consent override.
    consent = None if is_statutory(rule) else case.consent
    return RoutingRequest(
        category=category,
        urgency=urgency,
        country=country,
        admin_area=case.admin_area if country == case.country else None,
        age_band=case.age_band,
        sex=case.sex,
        nationality=case.nationality,
        languages=case.languages,
        vulnerabilities=case.vulnerabilities,
        refused_partner_ids=consent.refused_partner_ids if consent else frozenset(),
        refused_partner_types=consent.refused_partner_types if consent else frozenset(),
        excluded_service_ids=excluded,
        required_designation=mandatory.designation if mandatory else None,
        chosen_service_id=chosen_service_id,
        acceptance_window_seconds=acceptance_window_seconds,
    )


def route(
    request: RoutingRequest,
    services: Iterable[ServiceListing],
    records: Mapping[UUID, PartnerRecord],
) -> RoutingDecision:
    """Evaluates every service against the request and ranks the eligible ones.

    The hot path of routing (goal: p99 under 1 ms per need): what depends only on the
    request is worked out once, a UUID is hashed only when a set could hold it, a
    candidate's covering area is found once for the filters and the score, and each
    candidate yields one evaluation."""
    filters = HardFilters(request)
    scored: list[tuple[float, int, ServiceListing, dict[str, float]]] = []
    excluded: list[CandidateEvaluation] = []
    for service in services:
        area = covering_area(service.coverage, request.country, request.admin_area)
        failed = filters.first_failed_rule(service, area)
        if failed is not None:
            excluded.append(CandidateEvaluation(service.service_id, service.partner_id, failed))
            continue
        assert area is not None  # the coverage filter passed
        record = records.get(service.partner_id, NO_RECORD)
        components = score_components(request, service, area, record)
        # Best score first, then service id (UUIDs order by their integer value).
        scored.append((-weighted_score(components), service.service_id.int, service, components))
    scored.sort(key=_by_rank)
    ranked = tuple(
        CandidateEvaluation(
            service.service_id,
            service.partner_id,
            RoutingRule.ELIGIBLE,
            -negated_score,
            components,
            rank,
        )
        for rank, (negated_score, _, service, components) in enumerate(scored, start=1)
    )
    return RoutingDecision(ranked, tuple(excluded))


def _by_rank(entry: tuple[float, int, ServiceListing, dict[str, float]]) -> tuple[float, int]:
    return entry[0], entry[1]


NO_RECORD = PartnerRecord()


class HardFilters:
    """The hard filters for one request, with what depends only on the request computed
    once (empty sets become None, so a candidate's UUIDs are hashed only when needed)."""

    __slots__ = (
        "_chosen",
        "_designation",
        "_excluded",
        "_refused_ids",
        "_refused_types",
        "_request",
    )

    def __init__(self, request: RoutingRequest) -> None:
        self._request = request
        self._chosen = request.chosen_service_id
        self._excluded = request.excluded_service_ids or None
        self._refused_ids = request.refused_partner_ids or None
        self._refused_types = request.refused_partner_types or None
        self._designation = request.required_designation

    def first_failed_rule(self, service: ServiceListing, area: Area | None) -> RoutingRule | None:
        """The first hard filter the service fails, in a fixed order; None when it passes
        all. `area` is the part of its coverage holding the request's place, if any."""
        request = self._request
        if service.category is not request.category:
            return RoutingRule.CATEGORY_MISMATCH
        if self._chosen is not None and service.service_id != self._chosen:
            return RoutingRule.NOT_CHOSEN
        if service.status is not ServiceStatus.ACTIVE or not service.partner_active:
            return RoutingRule.SERVICE_NOT_ACTIVE
        if self._excluded is not None and service.service_id in self._excluded:
            return RoutingRule.PREVIOUSLY_TRIED
        if area is None:
            return RoutingRule.OUTSIDE_COVERAGE
        if self._designation is not None and not service.designated(
            self._designation, request.country, request.admin_area
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
        if self._refused_ids is not None and service.partner_id in self._refused_ids:
            return RoutingRule.CONSENT_REFUSED_PARTNER
        if self._refused_types is not None and service.partner_type in self._refused_types:
            return RoutingRule.CONSENT_REFUSED_PARTNER_TYPE
        return None


_LANGUAGE, _CAPACITY, _ACCEPTANCE, _RESPONSE, _AREA = (
    WEIGHTS["language"],
    WEIGHTS["capacity"],
    WEIGHTS["acceptance"],
    WEIGHTS["response_time"],
    WEIGHTS["area_specificity"],
)


def weighted_score(components: Mapping[str, float]) -> float:
    """The weighted sum of the components, rounded (the same ranking on every platform)."""
    return round(
        _LANGUAGE * components["language"]
        + _CAPACITY * components["capacity"]
        + _ACCEPTANCE * components["acceptance"]
        + _RESPONSE * components["response_time"]
        + _AREA * components["area_specificity"],
        SCORE_DIGITS,
    )


def score_components(
    request: RoutingRequest, service: ServiceListing, area: Area, record: PartnerRecord
) -> dict[str, float]:
    """Each score component in [0, 1]; `area` is the part of the service's coverage that
    holds the request's place."""
    languages = request.languages
    if languages and languages[0] in service.languages:
        language = 1.0
    elif not service.languages.isdisjoint(languages):
        language = SECONDARY_LANGUAGE
    else:
        language = 0.0

    available = service.capacity_available
    if available is None:
        capacity = NEUTRAL
    elif service.capacity_total:
        capacity = round(min(available / service.capacity_total, 1.0), SCORE_DIGITS)
    else:
        capacity = round(min(available / 10, 1.0), SCORE_DIGITS)

    rate = record.acceptance_rate
    acceptance = NEUTRAL if rate is None else round(rate, SCORE_DIGITS)
    seconds = record.median_response_seconds
    if seconds is None:
        response_time = NEUTRAL
    else:
        window = max(request.acceptance_window_seconds, 1.0)
        response_time = round(1.0 - min(seconds / window, 1.0), SCORE_DIGITS)

    if area.nationwide:
        area_specificity = 0.5
    else:
        area_specificity = 1.0 if request.admin_area in area.admin_areas else 0.25
    return {
        "language": language,
        "capacity": capacity,
        "acceptance": acceptance,
        "response_time": response_time,
        "area_specificity": area_specificity,
    }
