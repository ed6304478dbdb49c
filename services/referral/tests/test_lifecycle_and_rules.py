"""The FHIR-aligned lifecycle, mandatory rules and SLA windows, table-driven."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mpa_contracts.vocabularies import (
    AgeBand,
    ConsentScope,
    ReferralState,
    SafeContactMethod,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.domain.cases import CaseProfile, CaseStatus, ConsentTerms
from mpa_referral.domain.lifecycle import TRANSITIONS, Action, IllegalTransition, next_state
from mpa_referral.domain.mandatory import (
    ANTI_TRAFFICKING,
    CHILD_PROTECTION,
    MandatoryRule,
    mandatory_need_id,
    mandatory_referrals,
)
from mpa_referral.domain.sla import DEFAULT_ACCEPTANCE_SLA, acceptance_due

S = ReferralState
LEGAL = [
    (S.REQUESTED, Action.ROUTE, S.ROUTED),
    (S.REQUESTED, Action.GIVE_UP, S.UNROUTABLE),
    (S.UNROUTABLE, Action.ROUTE, S.ROUTED),
    (S.ROUTED, Action.ACCEPT, S.ACCEPTED),
    (S.ROUTED, Action.DECLINE, S.DECLINED),
    (S.DECLINED, Action.REROUTE, S.REQUESTED),
    (S.ROUTED, Action.REROUTE, S.REQUESTED),
    (S.ACCEPTED, Action.REROUTE, S.REQUESTED),  # its partner or service left the directory
    (S.ACCEPTED, Action.START, S.IN_PROGRESS),
    (S.IN_PROGRESS, Action.HOLD, S.ON_HOLD),
    (S.ON_HOLD, Action.RESUME, S.IN_PROGRESS),
    (S.IN_PROGRESS, Action.COMPLETE, S.COMPLETED),
    (S.IN_PROGRESS, Action.FAIL, S.FAILED),
    *[
        (s, Action.CANCEL, S.CANCELLED)
        for s in (S.REQUESTED, S.ROUTED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD, S.UNROUTABLE)
    ],
]


@pytest.mark.parametrize(("state", "action", "after"), LEGAL)
def test_legal_transitions(state: ReferralState, action: Action, after: ReferralState) -> None:
    assert next_state(state, action) is after


def test_everything_else_is_illegal() -> None:
    legal = {(s, a) for s, a, _ in LEGAL}
    assert set(TRANSITIONS) == legal
    for state in ReferralState:
        for action in Action:
            if (state, action) not in legal:
                with pytest.raises(IllegalTransition):
                    next_state(state, action)
    # Terminal states accept nothing at all.
    for state in (S.COMPLETED, S.FAILED, S.CANCELLED):
        assert not any(s is state for s, _ in legal)


def case(*vulnerabilities: Vulnerability) -> CaseProfile:
    return CaseProfile(
        case_id=uuid.UUID(int=7),
        age_band=AgeBand.AGE_9_17,
        sex=Sex.MALE,
        nationality=None,
        languages=("ha",),
        country="NE",
        admin_area="NE-1",
        vulnerabilities=frozenset(vulnerabilities),
        consent=None,
        do_not_contact=False,
        safe_contact_method=SafeContactMethod.THROUGH_CASEWORKER,
        status=CaseStatus.OPEN,
    )


@pytest.mark.parametrize(
    ("vulnerabilities", "rules"),
    [
        ((), ()),
        ((Vulnerability.UNACCOMPANIED_CHILD,), (CHILD_PROTECTION,)),
        ((Vulnerability.SEPARATED_CHILD,), (CHILD_PROTECTION,)),
        ((Vulnerability.TRAFFICKING_VICTIM,), (ANTI_TRAFFICKING,)),
        (
            (Vulnerability.TRAFFICKING_VICTIM, Vulnerability.UNACCOMPANIED_CHILD),
            (CHILD_PROTECTION, ANTI_TRAFFICKING),
        ),
        ((Vulnerability.GBV_SURVIVOR,), ()),
    ],
)
def test_mandatory_rules(
    vulnerabilities: tuple[Vulnerability, ...], rules: tuple[object, ...]
) -> None:
    assert mandatory_referrals(case(*vulnerabilities)) == rules


def test_statutory_child_protection_ignores_consent_trafficking_does_not() -> None:
    assert not CHILD_PROTECTION.subject_to_consent
    assert ANTI_TRAFFICKING.subject_to_consent
    # A replay adds the mandatory need under the same id.
    assert mandatory_need_id(
        uuid.UUID(int=7), MandatoryRule.CHILD_PROTECTION_AUTHORITY
    ) == mandatory_need_id(uuid.UUID(int=7), MandatoryRule.CHILD_PROTECTION_AUTHORITY)


def test_consent_allows_referral_only_in_scope_and_in_force() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    terms = ConsentTerms(
        uuid.uuid4(), frozenset({ConsentScope.REFERRAL}), None, frozenset(), frozenset()
    )
    assert terms.allows_referral(now)
    assert not ConsentTerms(
        uuid.uuid4(), frozenset({ConsentScope.DATA_SHARING}), None, frozenset(), frozenset()
    ).allows_referral(now)
    expired = ConsentTerms(
        uuid.uuid4(),
        frozenset({ConsentScope.REFERRAL}),
        now - timedelta(days=1),
        frozenset(),
        frozenset(),
    )
    assert not expired.allows_referral(now)


@pytest.mark.parametrize(
    ("urgency", "service_hours", "window"),
    [
        (Urgency.CRITICAL, {}, timedelta(hours=1)),
        (Urgency.HIGH, {}, timedelta(hours=24)),
        (Urgency.MEDIUM, {}, timedelta(hours=72)),
        (Urgency.LOW, {}, timedelta(days=14)),
        (Urgency.HIGH, {Urgency.HIGH: 4}, timedelta(hours=4)),  # a service may promise less
        (Urgency.CRITICAL, {Urgency.CRITICAL: 5}, timedelta(hours=1)),  # ... never more
    ],
)
def test_acceptance_deadlines(
    urgency: Urgency, service_hours: dict[Urgency, int], window: timedelta
) -> None:
    routed = datetime(2026, 5, 1, tzinfo=UTC)
    assert acceptance_due(urgency, routed, DEFAULT_ACCEPTANCE_SLA, service_hours) == routed + window
