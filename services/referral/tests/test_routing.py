"""Routing rules, table-driven: each hard filter, the score, the stable tie-break."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

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
from mpa_referral.domain.directory import (
    Area,
    Designation,
    DesignationRole,
    Eligibility,
    ServiceListing,
)
from mpa_referral.domain.routing import (
    EXCLUSION_REASON,
    WEIGHTS,
    PartnerRecord,
    RoutingRequest,
    RoutingRule,
    route,
)

PARTNER = uuid.UUID(int=1)
REQUEST = RoutingRequest(
    category=NeedCategory.SHELTER,
    urgency=Urgency.HIGH,
    country="NE",
    admin_area="NE-8",
    age_band=AgeBand.AGE_24_26,
    sex=Sex.FEMALE,
    nationality="NG",
    languages=("ha", "fr"),
    vulnerabilities=frozenset({Vulnerability.TRAFFICKING_VICTIM}),
)


def listing(n: int = 1, **changes: Any) -> ServiceListing:
    base = ServiceListing(
        service_id=uuid.UUID(int=100 + n),
        partner_id=PARTNER,
        partner_type=PartnerType.CIVIL_SOCIETY_ORGANISATION,
        partner_active=True,
        partner_designations=(),
        category=NeedCategory.SHELTER,
        status=ServiceStatus.ACTIVE,
        coverage=(Area("NE"),),
        languages=frozenset({"ha"}),
        eligibility=Eligibility(),
        capacity_available=None,
        capacity_total=None,
    )
    return dataclasses.replace(base, **changes)


CASES: list[tuple[str, dict[str, Any], dict[str, Any], RoutingRule]] = [
    ("eligible", {}, {}, RoutingRule.ELIGIBLE),
    ("other category", {"category": NeedCategory.FOOD}, {}, RoutingRule.CATEGORY_MISMATCH),
    ("not the chosen one", {}, {"chosen_service_id": uuid.UUID(int=9)}, RoutingRule.NOT_CHOSEN),
    (
        "temporarily closed",
        {"status": ServiceStatus.TEMPORARILY_CLOSED},
        {},
        RoutingRule.SERVICE_NOT_ACTIVE,
    ),
    ("partner deactivated", {"partner_active": False}, {}, RoutingRule.SERVICE_NOT_ACTIVE),
    (
        "tried before",
        {},
        {"excluded_service_ids": frozenset({uuid.UUID(int=101)})},
        RoutingRule.PREVIOUSLY_TRIED,
    ),
    ("other country", {"coverage": (Area("ML"),)}, {}, RoutingRule.OUTSIDE_COVERAGE),
    (
        "other admin area",
        {"coverage": (Area("NE", frozenset({"NE-1"})),)},
        {},
        RoutingRule.OUTSIDE_COVERAGE,
    ),
    (
        "named admin area",
        {"coverage": (Area("NE", frozenset({"NE-8"})),)},
        {},
        RoutingRule.ELIGIBLE,
    ),
    (
        "help wanted abroad, any area there",
        {"coverage": (Area("ML", frozenset({"ML-1"})),)},
        {"country": "ML", "admin_area": None},
        RoutingRule.ELIGIBLE,
    ),
    (
        "not the designated authority",
        {},
        {"required_designation": DesignationRole.CHILD_PROTECTION_AUTHORITY},
        RoutingRule.NOT_DESIGNATED,
    ),
    (
        "designated elsewhere",
        {
            "partner_designations": (
                Designation(
                    DesignationRole.CHILD_PROTECTION_AUTHORITY, Area("NE", frozenset({"NE-1"}))
                ),
            )
        },
        {"required_designation": DesignationRole.CHILD_PROTECTION_AUTHORITY},
        RoutingRule.NOT_DESIGNATED,
    ),
    (
        "designated here",
        {
            "partner_designations": (
                Designation(DesignationRole.CHILD_PROTECTION_AUTHORITY, Area("NE")),
            )
        },
        {"required_designation": DesignationRole.CHILD_PROTECTION_AUTHORITY},
        RoutingRule.ELIGIBLE,
    ),
    (
        "children only",
        {"eligibility": Eligibility(max_age=17)},
        {},
        RoutingRule.AGE_BAND_NOT_SERVED,
    ),
    (
        "band straddles the minimum",
        {"eligibility": Eligibility(min_age=25)},
        {},
        RoutingRule.AGE_BAND_NOT_SERVED,
    ),
    (
        "men only",
        {"eligibility": Eligibility(sexes=frozenset({Sex.MALE}))},
        {},
        RoutingRule.SEX_NOT_SERVED,
    ),
    (
        "nationality excluded",
        {"eligibility": Eligibility(nationalities_excluded=frozenset({"NG"}))},
        {},
        RoutingRule.NATIONALITY_NOT_SERVED,
    ),
    (
        "nationals only",
        {"eligibility": Eligibility(nationalities_served=frozenset({"NE"}))},
        {},
        RoutingRule.NATIONALITY_NOT_SERVED,
    ),
    ("stateless person, open service", {}, {"nationality": None}, RoutingRule.ELIGIBLE),
    (
        "for children on the move",
        {
            "eligibility": Eligibility(
                vulnerabilities_required=frozenset({Vulnerability.UNACCOMPANIED_CHILD})
            )
        },
        {},
        RoutingRule.VULNERABILITY_NOT_SERVED,
    ),
    (
        "for trafficking victims",
        {
            "eligibility": Eligibility(
                vulnerabilities_required=frozenset({Vulnerability.TRAFFICKING_VICTIM})
            )
        },
        {},
        RoutingRule.ELIGIBLE,
    ),
    ("full", {"capacity_available": 0, "capacity_total": 5}, {}, RoutingRule.NO_CAPACITY),
    (
        "partner refused",
        {},
        {"refused_partner_ids": frozenset({PARTNER})},
        RoutingRule.CONSENT_REFUSED_PARTNER,
    ),
    (
        "partner type refused",
        {},
        {"refused_partner_types": frozenset({PartnerType.CIVIL_SOCIETY_ORGANISATION})},
        RoutingRule.CONSENT_REFUSED_PARTNER_TYPE,
    ),
]


@pytest.mark.parametrize(
    ("service_changes", "request_changes", "rule"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_hard_filter(
    service_changes: dict[str, Any], request_changes: dict[str, Any], rule: RoutingRule
) -> None:
    decision = route(
        dataclasses.replace(REQUEST, **request_changes), [listing(**service_changes)], {}
    )
    (evaluation,) = decision.evaluations
    assert evaluation.rule is rule
    assert (decision.chosen is not None) == (rule is RoutingRule.ELIGIBLE)


def test_every_failed_rule_is_counted_with_a_contract_reason() -> None:
    assert set(EXCLUSION_REASON) == set(RoutingRule) - {RoutingRule.ELIGIBLE}
    decision = route(
        REQUEST,
        [listing(1, capacity_available=0), listing(2, capacity_available=0), listing(3)],
        {},
    )
    assert decision.exclusion_counts() == {RoutingExclusionReason.NO_CAPACITY: 2}


def test_the_score_prefers_language_then_capacity_record_and_specificity() -> None:
    preferred = listing(1, languages=frozenset({"ha"}))
    secondary = listing(2, languages=frozenset({"fr"}))
    none = listing(3, languages=frozenset({"en"}))
    decision = route(REQUEST, [none, secondary, preferred], {})
    assert [e.service_id for e in decision.ranked] == [
        s.service_id for s in (preferred, secondary, none)
    ]
    assert [e.rank for e in decision.ranked] == [1, 2, 3]
    assert decision.ranked[0].components["language"] == 1.0
    assert decision.ranked[1].components["language"] == 0.6
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("record", "expected_first"),
    [
        (PartnerRecord(acceptance_rate=1.0, median_response_seconds=60), 2),
        (PartnerRecord(acceptance_rate=0.0, median_response_seconds=72 * 3600), 1),
    ],
)
def test_track_record_moves_a_partner_up_or_down(
    record: PartnerRecord, expected_first: int
) -> None:
    other = uuid.UUID(int=2)
    decision = route(REQUEST, [listing(1), listing(2, partner_id=other)], {other: record})
    assert decision.ranked[0].service_id == uuid.UUID(int=100 + expected_first)


def test_area_specificity_and_capacity_left_count() -> None:
    local = listing(1, coverage=(Area("NE", frozenset({"NE-8"})),))
    nationwide = listing(2)
    assert route(REQUEST, [nationwide, local], {}).ranked[0].service_id == local.service_id
    roomy = listing(3, capacity_available=9, capacity_total=10)
    tight = listing(4, capacity_available=1, capacity_total=10)
    assert route(REQUEST, [tight, roomy], {}).ranked[0].service_id == roomy.service_id


def test_ties_break_on_service_id_whatever_the_input_order() -> None:
    services = [listing(n) for n in (5, 3, 9, 1)]
    first = route(REQUEST, services, {})
    again = route(REQUEST, list(reversed(services)), {})
    assert [e.service_id for e in first.ranked] == [e.service_id for e in again.ranked]
    assert [e.service_id.int for e in first.ranked] == [101, 103, 105, 109]


def test_a_place_lost_to_a_race_moves_the_service_to_the_excluded() -> None:
    decision = route(REQUEST, [listing(1), listing(2)], {})
    after = decision.without(uuid.UUID(int=101), RoutingRule.NO_CAPACITY)
    assert [(e.service_id.int, e.rank) for e in after.ranked] == [(102, 1)]
    assert after.excluded[0].rule is RoutingRule.NO_CAPACITY
