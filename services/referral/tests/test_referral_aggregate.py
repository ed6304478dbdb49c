"""The Referral aggregate checks its own transitions and records its own events; who may
read what of it (disclosure) is pure too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mpa_contracts.events.referral import (
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralConsentOverrideUsedV1,
    ReferralDeclinedV1,
    ReferralRequestedV1,
    ReferralReroutedV1,
    ReferralRoutedV1,
    ReferralSlaBreachedV1,
    ReferralUnroutableV1,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    CancelReason,
    ConsentOverrideReason,
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
from mpa_referral.domain.disclosure import Viewer, visible_explanation, visible_history
from mpa_referral.domain.lifecycle import AttemptResponse, IllegalTransition
from mpa_referral.domain.mandatory import MandatoryRule, is_statutory
from mpa_referral.domain.referral import HistoryEntry, Referral, RoutingAttempt
from mpa_referral.domain.routing import (
    NO_DECISION,
    CandidateEvaluation,
    RoutingDecision,
    RoutingRule,
)

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
CW = Actor("caseworker:cw", ActorRole.CASEWORKER)
A, B = uuid.UUID(int=1), uuid.UUID(int=2)  # partners
SA, SB = uuid.UUID(int=11), uuid.UUID(int=12)  # their services
STAFF_A = Actor("partner:a", ActorRole.PARTNER, A)


def need(rule: MandatoryRule | None = None) -> CaseNeed:
    return CaseNeed(uuid.uuid4(), uuid.uuid4(), NeedCategory.SHELTER, Urgency.HIGH, None, rule)


def decision(*chosen: tuple[uuid.UUID, uuid.UUID]) -> RoutingDecision:
    ranked = tuple(
        CandidateEvaluation(service, partner, RoutingRule.ELIGIBLE, 0.9 - i / 10, {}, i + 1)
        for i, (service, partner) in enumerate(chosen)
    )
    excluded = (
        CandidateEvaluation(
            uuid.UUID(int=99), uuid.UUID(int=98), RoutingRule.CONSENT_REFUSED_PARTNER
        ),
    )
    return RoutingDecision(ranked, excluded)


def routed(holds_capacity: bool = True) -> Referral:
    referral = Referral.request(uuid.uuid4(), need(), country="NE", actor=CW)
    referral.route(
        decision((SA, A), (SB, B)),
        holds_capacity=holds_capacity,
        now=NOW,
        due=NOW + timedelta(hours=1),
    )
    return referral


def test_a_request_records_its_event_and_an_override_its_own() -> None:
    referral = Referral.request(
        uuid.uuid4(), need(), country="NE", actor=CW, override=ConsentOverrideReason.RISK_TO_LIFE
    )
    changes = referral.pull_changes()
    assert [type(c.event) for c in changes] == [ReferralRequestedV1, ReferralConsentOverrideUsedV1]
    assert changes[0].from_state is None
    assert changes[0].to_state is ReferralState.REQUESTED
    assert changes[1].reason == "risk_to_life"
    assert referral.pull_changes() == []  # drained


def test_routing_holds_a_place_sets_the_deadline_and_explains_in_codes() -> None:
    referral = routed()
    (_requested, route) = referral.pull_changes()
    assert isinstance(route.event, ReferralRoutedV1)
    assert (referral.state, referral.partner_id, referral.attempt) == (ReferralState.ROUTED, A, 1)
    assert route.partner_id == A  # the entry concerns the partner it went to
    assert route.deadline is not None
    assert route.deadline.milestone is SlaMilestone.ACCEPTANCE
    assert route.decided is not None
    assert route.decided.partner_id == A
    assert [c.service_id for c in route.event.explanation.candidates] == [SA, SB]
    assert route.event.explanation.exclusions[0].reason.value == "consent_refused_partner"


def test_a_decline_gives_the_place_back_and_a_reroute_clears_the_holder() -> None:
    referral = routed()
    referral.pull_changes()
    referral.decline(STAFF_A, ReferralStatusReason.LACK_OF_CAPACITY, note="full tonight")
    referral.reroute(RerouteCause.DECLINED)
    declined, rerouted = referral.pull_changes()
    assert isinstance(declined.event, ReferralDeclinedV1)
    assert declined.released_place == SA
    assert declined.answered is AttemptResponse.DECLINED
    assert declined.note == "full tonight"
    assert declined.partner_id == A
    assert isinstance(rerouted.event, ReferralReroutedV1)
    assert rerouted.released_place is None  # given back once
    assert rerouted.partner_id == A
    assert rerouted.answered is None
    assert (referral.state, referral.partner_id, referral.reroute_count) == (
        ReferralState.REQUESTED,
        None,
        1,
    )


def test_a_departure_ends_an_unanswered_routing_without_counting_against_the_partner() -> None:
    referral = routed()
    referral.pull_changes()
    referral.reroute(RerouteCause.SERVICE_DEACTIVATED)
    (rerouted,) = referral.pull_changes()
    assert rerouted.answered is AttemptResponse.CANCELLED
    assert rerouted.released_place == SA


def test_transitions_are_checked_by_the_aggregate() -> None:
    referral = routed()
    with pytest.raises(IllegalTransition):
        referral.complete(STAFF_A, OutcomeCode.SERVICE_PROVIDED, now=NOW, note=None)
    referral.accept(STAFF_A, now=NOW, start_due=NOW + timedelta(days=1), note=None)
    referral.start(STAFF_A, note=None)
    referral.complete(STAFF_A, OutcomeCode.SERVICE_PROVIDED, now=NOW, note="done")
    assert referral.state is ReferralState.COMPLETED
    assert referral.outcome is OutcomeCode.SERVICE_PROVIDED
    assert referral.closed_at == NOW
    with pytest.raises(IllegalTransition):
        referral.cancel(CW, CancelReason.REFERRER_CANCELLED, now=NOW)


def test_accepting_answers_the_attempt_and_sets_the_start_deadline() -> None:
    referral = routed()
    referral.pull_changes()
    referral.accept(STAFF_A, now=NOW, start_due=NOW + timedelta(days=3), note=None)
    (accepted,) = referral.pull_changes()
    assert isinstance(accepted.event, ReferralAcceptedV1)
    assert accepted.answered is AttemptResponse.ACCEPTED
    assert accepted.deadline is not None
    assert accepted.deadline.milestone is SlaMilestone.SERVICE_START


def test_cancelling_a_routed_referral_records_the_partner_it_held() -> None:
    referral = routed()
    referral.pull_changes()
    referral.cancel(SYSTEM, CancelReason.CONSENT_WITHDRAWN, now=NOW)
    (cancelled,) = referral.pull_changes()
    assert isinstance(cancelled.event, ReferralCancelledV1)
    assert cancelled.event.partner_id == A
    assert cancelled.partner_id == A
    assert cancelled.answered is AttemptResponse.CANCELLED
    assert cancelled.released_place == SA
    assert referral.status_reason is CancelReason.CONSENT_WITHDRAWN


def test_giving_up_records_why_and_the_deadlines_say_when_they_stand() -> None:
    referral = Referral.request(uuid.uuid4(), need(), country="NE", actor=CW)
    referral.give_up(UnroutableReason.NO_MATCHING_SERVICE, NO_DECISION, NOW)
    assert isinstance(referral.pull_changes()[-1].event, ReferralUnroutableV1)
    assert referral.status_reason is UnroutableReason.NO_MATCHING_SERVICE
    late = routed()
    assert late.awaits(ReferralState.ROUTED, 1)
    assert not late.awaits(ReferralState.ROUTED, 2)
    late.pull_changes()
    late.breach_acceptance_sla()
    (breach,) = late.pull_changes()
    assert isinstance(breach.event, ReferralSlaBreachedV1)
    assert breach.answered is AttemptResponse.SLA_BREACHED
    assert breach.from_state is breach.to_state is ReferralState.ROUTED


def test_the_statutory_check_is_written_once() -> None:
    assert is_statutory(MandatoryRule.CHILD_PROTECTION_AUTHORITY)
    assert not is_statutory(MandatoryRule.ANTI_TRAFFICKING_FOCAL_POINT)
    assert not is_statutory(None)
    assert need(MandatoryRule.CHILD_PROTECTION_AUTHORITY).statutory
    child = Referral.request(
        uuid.uuid4(),
        need(MandatoryRule.CHILD_PROTECTION_AUTHORITY),
        country="NE",
        actor=SYSTEM,
        mandatory_rule=MandatoryRule.CHILD_PROTECTION_AUTHORITY,
    )
    assert child.statutory
    assert child.rule_set == "mandatory:child_protection_authority"


def entry(partner_id: uuid.UUID | None, role: str, note: str | None) -> HistoryEntry:
    return HistoryEntry(
        at=NOW,
        actor_id=f"{role}:x",
        actor_role=role,
        from_state=None,
        to_state=ReferralState.ROUTED,
        event_type="org.mpa.referral.routed.v1",
        event_id=uuid.uuid4(),
        reason=None,
        note=note,
        partner_id=partner_id,
    )


def test_a_partner_sees_only_its_own_entries_and_notes_an_auditor_no_notes() -> None:
    history = [
        entry(None, "caseworker", None),  # requested
        entry(A, "partner", "A's decline note"),
        entry(B, "system", None),  # routed to B
        entry(B, "caseworker", "the referrer's note"),  # cancelled while B held it
        entry(B, "partner", "B's note"),
    ]
    assert visible_history(Viewer.referrer(), history) == history
    assert [e.note for e in visible_history(Viewer.auditor(), history)] == [None] * 5
    seen_by_b = visible_history(Viewer.partner(B), history)
    assert [e.note for e in seen_by_b] == [None, None, "B's note"]
    assert all(e.partner_id == B for e in seen_by_b)


def test_a_partner_sees_only_its_own_line_of_the_routings_that_chose_it() -> None:
    candidates = decision((SA, A), (SB, B)).evaluations
    attempts = [
        RoutingAttempt(1, NOW, "standard", A, SA, candidates, AttemptResponse.DECLINED),
        RoutingAttempt(2, NOW, "standard", B, SB, candidates),
    ]
    assert visible_explanation(Viewer.auditor(), attempts) == attempts
    (seen,) = visible_explanation(Viewer.partner(B), attempts)
    assert seen.attempt == 2
    assert [(c.partner_id, c.rule) for c in seen.candidates] == [(B, RoutingRule.ELIGIBLE)]
