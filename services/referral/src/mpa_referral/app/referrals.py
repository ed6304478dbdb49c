"""Referral use cases: request, route (with capacity reserved under a row lock), partner
actions, re-routing after a decline, a missed SLA or a partner leaving the directory,
cascades on consent, refusals and closure, and the service-start deadline.

Every transition writes a history row and emits its event in the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.problems import Problem
from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
from mpa_contracts.events.base import ActorEventData, EventData
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
from mpa_referral.adapters import case_repository as case_repo
from mpa_referral.adapters import directory_repository as directory_repo
from mpa_referral.adapters import referral_repository as referral_repo
from mpa_referral.adapters import timer_repository as timer_repo
from mpa_referral.adapters.timer_repository import Timer
from mpa_referral.app.common import SYSTEM, Actor, Cause, emit
from mpa_referral.domain.cases import CaseNeed, CaseProfile, CaseStatus
from mpa_referral.domain.lifecycle import OPEN_STATES, Action, IllegalTransition
from mpa_referral.domain.mandatory import (
    RULES,
    MandatoryReferral,
    MandatoryRule,
    mandatory_need_id,
    mandatory_referrals,
)
from mpa_referral.domain.referral import Referral
from mpa_referral.domain.routing import (
    RoutingDecision,
    RoutingRequest,
    RoutingRule,
    route,
)
from mpa_referral.domain.sla import acceptance_due

ACCEPTANCE_SLA_TIMER = "referral.acceptance_sla"
START_SLA_TIMER = "referral.start_sla"
DIRECTORY_RETRY_TIMER = "directory.retry_unroutable"
MAX_EXPLAINED_CANDIDATES = 20  # the event's explanation is bounded; the database keeps all
# Unroutable referrals worth another try when the directory changes.
RETRYABLE_UNROUTABLE = (
    UnroutableReason.NO_MATCHING_SERVICE.value,
    UnroutableReason.ALL_CANDIDATES_EXCLUDED.value,
    UnroutableReason.ALL_CANDIDATES_DECLINED.value,
)
# What a cancellation cascade reaches: open referrals and those waiting for the directory.
OPEN_OR_WAITING = (*OPEN_STATES, ReferralState.UNROUTABLE)
# What a partner or service leaving the directory takes back to routing: referrals it holds
# whose service has not begun. Work in progress (or on hold) stays with the partner to be
# completed or failed: moving a person mid-service does more harm than finishing it.
NOT_STARTED = (ReferralState.ROUTED, ReferralState.ACCEPTED)
# Open referrals that have a partner (the ones a refusal of that partner can reach).
HELD = (
    ReferralState.ROUTED,
    ReferralState.ACCEPTED,
    ReferralState.IN_PROGRESS,
    ReferralState.ON_HOLD,
)


@dataclass(frozen=True, slots=True)
class ReferralPolicy:
    acceptance_sla: Mapping[Urgency, timedelta]
    start_sla: Mapping[Urgency, timedelta]  # from acceptance to the start of the service
    max_reroutes: int


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found() -> Problem:
    # The same answer whether the referral does not exist or belongs to another partner.
    return Problem(404, "Not found", "No such referral")


class Referrals:
    """The referral use cases; each runs inside the caller's unit of work."""

    def __init__(self, policy: ReferralPolicy) -> None:
        self.policy = policy

    # ---- requesting -------------------------------------------------------------------

    async def refer_case_needs(
        self, uow: UnitOfWork, case_id: uuid.UUID, actor: Actor, cause: Cause
    ) -> list[Referral]:
        """Refers every need of a case that is due a referral: the requested needs when the
        consent covers referral, and the mandatory ones (some regardless of consent)."""
        session = uow.session
        case = await case_repo.get_profile(session, case_id, for_update=True)
        if case is None or case.status is CaseStatus.CLOSED:
            return []
        now = _now()
        consented = case.allows_referral(now)
        needs = await case_repo.needs_of(session, case_id)
        rule_of_need: dict[uuid.UUID, MandatoryRule] = {}
        for mandatory in mandatory_referrals(case):
            if mandatory.subject_to_consent and not consented:
                continue
            if mandatory.subject_to_consent and not await directory_repo.any_designated(
                session, mandatory.designation, case.country, case.admin_area
            ):
                continue  # "where one is designated"
            requested = next(
                (n for n in needs if n.category is mandatory.category and n.mandatory_rule is None),
                None,
            )
            if requested is not None:
                rule_of_need[requested.need_id] = mandatory.rule
                continue
            need_id = mandatory_need_id(case_id, mandatory.rule)
            if all(n.need_id != need_id for n in needs):
                added = CaseNeed(
                    need_id,
                    case_id,
                    mandatory.category,
                    mandatory.urgency,
                    None,
                    mandatory.rule.value,
                )
                await case_repo.add_mandatory_need(session, added)
                needs.append(added)
            rule_of_need[need_id] = mandatory.rule

        outcomes = await referral_repo.referral_outcomes_by_need(session, case_id)
        created: list[Referral] = []
        for need in needs:
            rule = rule_of_need.get(need.need_id)
            statutory = rule is not None and not RULES[rule].subject_to_consent
            if not (consented or statutory):
                continue
            earlier = outcomes.get(need.need_id, [])
            # Referred already, unless only ever cancelled because consent was withdrawn.
            if any(
                state is not ReferralState.CANCELLED
                or reason != CancelReason.CONSENT_WITHDRAWN.value
                for state, reason in earlier
            ):
                continue
            requester = actor if need.mandatory_rule is None else SYSTEM
            created.append(
                await self.request(uow, case, need, requester, cause, mandatory_rule=rule)
            )
        return created

    async def request(
        self,
        uow: UnitOfWork,
        case: CaseProfile,
        need: CaseNeed,
        actor: Actor,
        cause: Cause,
        *,
        mandatory_rule: MandatoryRule | None = None,
        chosen_service_id: uuid.UUID | None = None,
        chosen_partner_id: uuid.UUID | None = None,
        override: ConsentOverrideReason | None = None,
    ) -> Referral:
        """Creates a referral for one need and routes it at once."""
        referral = Referral(
            id=uuid.uuid4(),
            case_id=case.case_id,
            need_id=need.need_id,
            category=need.category,
            urgency=need.urgency,
            country=need.assistance_country or case.country,
            state=ReferralState.REQUESTED,
            requested_by=actor.actor_id,
            mandatory_rule=mandatory_rule.value if mandatory_rule else None,
            chosen_service_id=chosen_service_id,
            consent_override_reason=override.value if override else None,
        )
        await referral_repo.insert_referral(uow.session, referral)
        await self._transition(
            uow,
            referral,
            None,
            ReferralRequestedV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                category=referral.category,
                urgency=referral.urgency,
                assistance_country=referral.country,
                preferred_partner_id=chosen_partner_id,
                actor_id=actor.actor_id,
                actor_role=actor.role,
            ),
            cause,
        )
        if override is not None:
            await self._transition(
                uow,
                referral,
                referral.state,
                ReferralConsentOverrideUsedV1(
                    referral_id=referral.id,
                    case_id=referral.case_id,
                    need_id=referral.need_id,
                    reason=override,
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                ),
                cause,
                reason=override.value,
            )
        await self.route(uow, referral, cause)
        return referral

    # ---- routing ------------------------------------------------------------------------

    async def decide(
        self, session: AsyncSession, referral: Referral, case: CaseProfile
    ) -> RoutingDecision:
        """The routing decision for a referral now (reads only; reserves nothing)."""
        rule = RULES[MandatoryRule(referral.mandatory_rule)] if referral.mandatory_rule else None
        request = self.routing_request(
            case,
            category=referral.category,
            urgency=referral.urgency,
            country=referral.country,
            mandatory=rule,
            excluded=await referral_repo.tried_service_ids(session, referral.id),
            chosen_service_id=referral.chosen_service_id,
        )
        listings = await directory_repo.listings_for(session, referral.category, referral.country)
        records = await referral_repo.partner_records(session, {s.partner_id for s in listings})
        return route(request, listings, records)

    async def preview(
        self, session: AsyncSession, case: CaseProfile, need: CaseNeed
    ) -> RoutingDecision:
        """The ranked candidates a need would get now, before anyone refers it."""
        rule = RULES[MandatoryRule(need.mandatory_rule)] if need.mandatory_rule else None
        country = need.assistance_country or case.country
        request = self.routing_request(
            case, category=need.category, urgency=need.urgency, country=country, mandatory=rule
        )
        listings = await directory_repo.listings_for(session, need.category, country)
        records = await referral_repo.partner_records(session, {s.partner_id for s in listings})
        return route(request, listings, records)

    def routing_request(
        self,
        case: CaseProfile,
        *,
        category: NeedCategory,
        urgency: Urgency,
        country: str,
        mandatory: MandatoryReferral | None,
        excluded: frozenset[uuid.UUID] = frozenset(),
        chosen_service_id: uuid.UUID | None = None,
    ) -> RoutingRequest:
        # A statutory referral is made whatever the person refused; otherwise refusals hold,
        # also under a supervisor's consent override.
        statutory = mandatory is not None and not mandatory.subject_to_consent
        consent = None if statutory else case.consent
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
            acceptance_window_seconds=self.policy.acceptance_sla[urgency].total_seconds(),
        )

    async def route(
        self, uow: UnitOfWork, referral: Referral, cause: Cause, *, retry: bool = False
    ) -> bool:
        """Routes a requested (or, on retry, unroutable) referral to the best service that
        still has a place; otherwise it becomes unroutable. Returns whether it was routed."""
        session = uow.session
        case = await case_repo.get_profile(session, referral.case_id)
        if case is None:
            raise LookupError("referral of an unknown case")
        now = _now()
        if not (
            _statutory(referral) or referral.consent_override_reason or case.allows_referral(now)
        ):
            if not retry:
                await self._give_up(
                    uow, referral, UnroutableReason.NO_CONSENT, RoutingDecision((), ()), cause
                )
            return False
        decision = await self.decide(session, referral, case)
        chosen = None
        while decision.chosen is not None:
            candidate = decision.chosen
            taken = await directory_repo.reserve_place(session, candidate.service_id)
            if taken is not None:
                chosen, holds = candidate, taken
                break
            decision = decision.without(candidate.service_id, RoutingRule.NO_CAPACITY)
        if chosen is None:
            if not retry:
                reason = self._unroutable_reason(decision)
                await self._give_up(uow, referral, reason, decision, cause)
            return False

        service = await directory_repo.get_service(session, chosen.service_id)
        assert service is not None
        due = acceptance_due(
            referral.urgency, now, self.policy.acceptance_sla, _sla_hours(service["sla_hours"])
        )
        previous = referral.apply(Action.ROUTE)
        referral.attempt += 1
        referral.partner_id = chosen.partner_id
        referral.service_id = chosen.service_id
        referral.holds_capacity = holds
        referral.routed_at = now
        referral.acceptance_due_at = due
        referral.status_reason = None
        await referral_repo.save_referral(session, referral)
        await self._store_decision(session, referral, decision, now)
        await timer_repo.schedule(
            session,
            kind=ACCEPTANCE_SLA_TIMER,
            subject_id=referral.id,
            due_at=due,
            payload={"attempt": referral.attempt},
        )
        await self._transition(
            uow,
            referral,
            previous,
            ReferralRoutedV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                category=referral.category,
                urgency=referral.urgency,
                partner_id=chosen.partner_id,
                service_id=chosen.service_id,
                attempt=referral.attempt,
                acceptance_due_at=due,
                explanation=_explanation(decision),
            ),
            cause,
        )
        return True

    @staticmethod
    def _unroutable_reason(decision: RoutingDecision) -> UnroutableReason:
        if not decision.excluded:
            return UnroutableReason.NO_MATCHING_SERVICE
        if all(e.rule is RoutingRule.PREVIOUSLY_TRIED for e in decision.excluded):
            return UnroutableReason.ALL_CANDIDATES_DECLINED
        return UnroutableReason.ALL_CANDIDATES_EXCLUDED

    async def _give_up(
        self,
        uow: UnitOfWork,
        referral: Referral,
        reason: UnroutableReason,
        decision: RoutingDecision,
        cause: Cause,
    ) -> None:
        now = _now()
        previous = referral.apply(Action.GIVE_UP)
        referral.attempt += 1
        referral.status_reason = reason.value
        await referral_repo.save_referral(uow.session, referral)
        await self._store_decision(uow.session, referral, decision, now)
        await self._transition(
            uow,
            referral,
            previous,
            ReferralUnroutableV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                category=referral.category,
                urgency=referral.urgency,
                reason=reason,
                attempts=referral.attempt,
                exclusions=_exclusions(decision),
            ),
            cause,
            reason=reason.value,
        )

    async def _store_decision(
        self, session: AsyncSession, referral: Referral, decision: RoutingDecision, now: datetime
    ) -> None:
        rule_set = (
            f"mandatory:{referral.mandatory_rule}"
            if referral.mandatory_rule
            else "chosen_service"
            if referral.chosen_service_id
            else "standard"
        )
        await referral_repo.add_attempt(
            session,
            referral_id=referral.id,
            attempt=referral.attempt,
            decided_at=now,
            rule_set=rule_set,
            partner_id=decision.chosen.partner_id if decision.chosen else None,
            service_id=decision.chosen.service_id if decision.chosen else None,
            candidates=[
                {
                    "service_id": str(e.service_id),
                    "partner_id": str(e.partner_id),
                    "rule": e.rule.value,
                    "passed": e.eligible,
                    "score": e.score,
                    "rank": e.rank,
                    "components": dict(e.components),
                }
                for e in decision.evaluations
            ],
        )

    # ---- partner and referrer actions ---------------------------------------------------

    async def load_for(
        self, session: AsyncSession, referral_id: uuid.UUID, actor: Actor
    ) -> Referral:
        """The referral, locked; 404 for a partner that does not hold it."""
        referral = await referral_repo.get_referral(session, referral_id, for_update=True)
        if referral is None or (
            actor.partner_id is not None and referral.partner_id != actor.partner_id
        ):
            raise _not_found()
        return referral

    async def act(
        self,
        uow: UnitOfWork,
        referral_id: uuid.UUID,
        action: Action,
        actor: Actor,
        cause: Cause,
        *,
        reason: str | None = None,
        note: str | None = None,
    ) -> Referral:
        session = uow.session
        referral = await self.load_for(session, referral_id, actor)
        holder = (referral.partner_id, referral.service_id)
        try:
            previous = referral.apply(action)
        except IllegalTransition as illegal:
            raise Problem(409, "Illegal transition", str(illegal)) from None
        now = _now()
        common: dict[str, Any] = {
            "referral_id": referral.id,
            "case_id": referral.case_id,
            "need_id": referral.need_id,
            "actor_id": actor.actor_id,
            "actor_role": actor.role,
        }
        partner_id, service_id = holder
        held: dict[str, Any] = {"partner_id": partner_id, "service_id": service_id}
        data: ActorEventData
        if action is Action.ACCEPT:
            referral.accepted_at = now
            await referral_repo.record_response(session, referral.id, referral.attempt, "accepted")
            start_due = now + self.policy.start_sla[referral.urgency]
            await timer_repo.schedule(
                session,
                kind=START_SLA_TIMER,
                subject_id=referral.id,
                due_at=start_due,
                payload={"attempt": referral.attempt},
            )
            data = ReferralAcceptedV1(**common, **held, start_due_at=start_due)
        elif action is Action.DECLINE:
            await referral_repo.record_response(session, referral.id, referral.attempt, "declined")
            await self._release(session, referral)
            data = ReferralDeclinedV1(
                **common,
                **held,
                reason=ReferralStatusReason(_required(reason)),
                attempt=referral.attempt,
            )
        elif action is Action.START:
            data = ReferralStartedV1(**common, **held)
        elif action is Action.HOLD:
            data = ReferralOnHoldV1(**common, **held, reason=HoldReason(_required(reason)))
        elif action is Action.RESUME:
            data = ReferralResumedV1(**common, **held)
        elif action is Action.COMPLETE:
            await self._close(session, referral, now)
            referral.outcome = reason
            data = ReferralCompletedV1(**common, **held, outcome=OutcomeCode(_required(reason)))
        elif action is Action.FAIL:
            await self._close(session, referral, now)
            referral.status_reason = reason
            data = ReferralFailedV1(
                **common, **held, reason=ReferralStatusReason(_required(reason))
            )
        elif action is Action.CANCEL:
            return await self._cancel(
                uow, referral, previous, CancelReason(_required(reason)), actor, cause, note
            )
        else:
            raise Problem(409, "Illegal transition", f"{action.value} is not a partner action")
        await referral_repo.save_referral(session, referral)
        await self._transition(uow, referral, previous, data, cause, reason=reason, note=note)
        if action is Action.DECLINE:
            await self._reroute(uow, referral, RerouteCause.DECLINED, holder, cause)
        return referral

    async def _cancel(
        self,
        uow: UnitOfWork,
        referral: Referral,
        previous: ReferralState,
        reason: CancelReason,
        actor: Actor,
        cause: Cause,
        note: str | None,
    ) -> Referral:
        partner_id = referral.partner_id
        if previous is ReferralState.ROUTED:
            await referral_repo.record_response(
                uow.session, referral.id, referral.attempt, "cancelled"
            )
        referral.status_reason = reason.value
        await self._close(uow.session, referral, _now())
        await referral_repo.save_referral(uow.session, referral)
        await self._transition(
            uow,
            referral,
            previous,
            ReferralCancelledV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                reason=reason,
                partner_id=partner_id,
                actor_id=actor.actor_id,
                actor_role=actor.role,
            ),
            cause,
            reason=reason.value,
            note=note,
        )
        return referral

    async def cancel_open_referrals(
        self,
        uow: UnitOfWork,
        case_id: uuid.UUID,
        reason: CancelReason,
        cause: Cause,
        *,
        keep_statutory: bool,
    ) -> int:
        """Cancels every open (or unroutable) referral of a case; statutory ones are kept
        when `keep_statutory` (consent withdrawal cannot waive a statutory duty)."""
        cancelled = 0
        for referral in await referral_repo.referrals_of_case(
            uow.session, case_id, states=OPEN_OR_WAITING, for_update=True
        ):
            if keep_statutory and _statutory(referral):
                continue
            previous = referral.apply(Action.CANCEL)
            await self._cancel(uow, referral, previous, reason, SYSTEM, cause, None)
            cancelled += 1
        return cancelled

    async def apply_consent(self, uow: UnitOfWork, case_id: uuid.UUID, cause: Cause) -> int:
        """Brings open referrals in line with the case's newly recorded consent.

        Each open referral held by a partner the person now refuses (by id or by type) is
        cancelled with reason `consent_withdrawn`: that partner must stop and loses access
        at once, in progress or not. If the consent no longer covers referral at all, every
        open referral is cancelled the same way. The statutory child-protection referral is
        kept either way. The caller then refers the case's needs again: a need whose
        referrals were only ever cancelled for consent is referred afresh, so it reaches a
        partner the person accepts.
        """
        session = uow.session
        case = await case_repo.get_profile(session, case_id)
        if case is None:
            return 0
        if not case.allows_referral(_now()):
            return await self.cancel_open_referrals(
                uow, case_id, CancelReason.CONSENT_WITHDRAWN, cause, keep_statutory=True
            )
        consent = case.consent
        assert consent is not None
        if not (consent.refused_partner_ids or consent.refused_partner_types):
            return 0
        cancelled = 0
        for referral in await referral_repo.referrals_of_case(
            session, case_id, states=HELD, for_update=True
        ):
            if _statutory(referral) or referral.partner_id is None:
                continue
            refused = referral.partner_id in consent.refused_partner_ids
            if not refused and consent.refused_partner_types:
                partner = await directory_repo.get_partner(session, referral.partner_id)
                refused = partner is not None and partner["partner_type"] in {
                    t.value for t in consent.refused_partner_types
                }
            if refused:
                previous = referral.apply(Action.CANCEL)
                await self._cancel(
                    uow, referral, previous, CancelReason.CONSENT_WITHDRAWN, SYSTEM, cause, None
                )
                cancelled += 1
        return cancelled

    async def reroute_held(
        self,
        uow: UnitOfWork,
        cause_code: RerouteCause,
        *,
        partner_id: uuid.UUID | None = None,
        service_id: uuid.UUID | None = None,
    ) -> int:
        """A partner or service left the directory: each referral it holds that has not
        started goes back to routing (its place released); work in progress stays."""
        assert (partner_id is None) != (service_id is None)
        session = uow.session
        moved = 0
        for referral in await referral_repo.referrals_held(
            session, states=NOT_STARTED, partner_id=partner_id, service_id=service_id
        ):
            if referral.state is ReferralState.ROUTED:
                # The partner never answered; the attempt ends without counting against it.
                await referral_repo.record_response(
                    session, referral.id, referral.attempt, "cancelled"
                )
            cause = await self._story_of(session, referral.case_id)
            holder = (referral.partner_id, referral.service_id)
            await self._reroute(uow, referral, cause_code, holder, cause)
            moved += 1
        return moved

    async def _release(self, session: AsyncSession, referral: Referral) -> None:
        if referral.holds_capacity and referral.service_id is not None:
            await directory_repo.release_place(session, referral.service_id)
        referral.holds_capacity = False

    async def _close(self, session: AsyncSession, referral: Referral, now: datetime) -> None:
        await self._release(session, referral)
        referral.closed_at = now

    async def _reroute(
        self,
        uow: UnitOfWork,
        referral: Referral,
        cause_code: RerouteCause,
        holder: tuple[uuid.UUID | None, uuid.UUID | None],
        cause: Cause,
    ) -> None:
        partner_id, service_id = holder
        assert partner_id is not None
        assert service_id is not None
        await self._release(uow.session, referral)
        previous = referral.apply(Action.REROUTE)
        referral.reroute_count += 1
        referral.partner_id = None
        referral.service_id = None
        referral.routed_at = None
        referral.acceptance_due_at = None
        referral.accepted_at = None
        await referral_repo.save_referral(uow.session, referral)
        await self._transition(
            uow,
            referral,
            previous,
            ReferralReroutedV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                previous_partner_id=partner_id,
                previous_service_id=service_id,
                cause=cause_code,
                reroute_count=referral.reroute_count,
            ),
            cause,
            reason=cause_code.value,
        )
        if referral.reroute_count > self.policy.max_reroutes:
            await self._give_up(
                uow,
                referral,
                UnroutableReason.REROUTE_LIMIT_REACHED,
                RoutingDecision((), ()),
                cause,
            )
        else:
            await self.route(uow, referral, cause)

    # ---- timers ---------------------------------------------------------------------------

    async def on_acceptance_sla(self, uow: UnitOfWork, timer: Timer) -> str:
        """The partner neither accepted nor declined in time: record the breach, re-route."""
        referral = await self._still_awaiting(uow, timer, ReferralState.ROUTED)
        if referral is None:
            return "obsolete"  # answered, cancelled or re-routed before the deadline
        assert referral.acceptance_due_at is not None
        cause = await self._story_of(uow.session, referral.case_id)
        holder = (referral.partner_id, referral.service_id)
        await referral_repo.record_response(
            uow.session, referral.id, referral.attempt, "sla_breached"
        )
        await self._record_breach(
            uow, referral, SlaMilestone.ACCEPTANCE, referral.acceptance_due_at, cause
        )
        await self._reroute(uow, referral, RerouteCause.SLA_BREACHED, holder, cause)
        return "fired"

    async def on_start_sla(self, uow: UnitOfWork, timer: Timer) -> str:
        """The partner accepted but did not start in time: record and announce the breach.

        No re-route: the partner has the case and may be about to start; whether to move the
        person is for the referrer or a supervisor, whom the event alerts."""
        referral = await self._still_awaiting(uow, timer, ReferralState.ACCEPTED)
        if referral is None:
            return "obsolete"  # started, cancelled or re-routed before the deadline
        cause = await self._story_of(uow.session, referral.case_id)
        await self._record_breach(uow, referral, SlaMilestone.SERVICE_START, timer.due_at, cause)
        return "fired"

    async def _still_awaiting(
        self, uow: UnitOfWork, timer: Timer, state: ReferralState
    ) -> Referral | None:
        """The timer's referral, locked, if it still waits in `state` at the timer's attempt."""
        referral = await referral_repo.get_referral(uow.session, timer.subject_id, for_update=True)
        if (
            referral is None
            or referral.state is not state
            or referral.attempt != timer.payload.get("attempt")
        ):
            return None
        return referral

    async def _record_breach(
        self,
        uow: UnitOfWork,
        referral: Referral,
        milestone: SlaMilestone,
        due_at: datetime,
        cause: Cause,
    ) -> None:
        assert referral.partner_id is not None
        assert referral.service_id is not None
        await self._transition(
            uow,
            referral,
            referral.state,
            ReferralSlaBreachedV1(
                referral_id=referral.id,
                case_id=referral.case_id,
                need_id=referral.need_id,
                urgency=referral.urgency,
                partner_id=referral.partner_id,
                service_id=referral.service_id,
                milestone=milestone,
                due_at=due_at,
            ),
            cause,
            reason=milestone.value,
        )

    async def on_directory_changed(self, uow: UnitOfWork, timer: Timer) -> str:
        """A service joined or changed: give its category's unroutable referrals another try."""
        session = uow.session
        service = await directory_repo.get_service(session, timer.subject_id)
        if service is None:
            return "obsolete"
        routed = 0
        for referral_id in await referral_repo.retryable_unroutable(
            session,
            NeedCategory(service["category"]),
            service["coverage_countries"],
            RETRYABLE_UNROUTABLE,
        ):
            referral = await referral_repo.get_referral(
                session, referral_id, for_update=True, skip_locked=True
            )
            if referral is None or referral.state is not ReferralState.UNROUTABLE:
                continue
            cause = await self._story_of(session, referral.case_id)
            routed += await self.route(uow, referral, cause, retry=True)
        return f"routed:{routed}"

    async def _story_of(self, session: AsyncSession, case_id: uuid.UUID) -> Cause:
        row = await case_repo.get_case(session, case_id)
        return Cause(row["correlation_id"] if row else None)

    # ---- recording ------------------------------------------------------------------------

    async def _transition(
        self,
        uow: UnitOfWork,
        referral: Referral,
        previous: ReferralState | None,
        data: EventData,
        cause: Cause,
        *,
        reason: str | None = None,
        note: str | None = None,
    ) -> Envelope:
        envelope = emit(uow, data, cause, subject=f"referral/{referral.id}")
        actor_id, role = (
            (data.actor_id, data.actor_role.value)
            if isinstance(data, ActorEventData)
            else (SYSTEM.actor_id, SYSTEM.role.value)
        )
        await referral_repo.add_history(
            uow.session,
            referral_id=referral.id,
            actor_id=actor_id,
            actor_role=role,
            from_state=previous,
            to_state=referral.state,
            event_type=data.event_type,
            event_id=envelope.id,
            reason=reason,
            note=note,
        )
        return envelope


def _statutory(referral: Referral) -> bool:
    """Made by a mandatory rule that consent cannot waive (the child-protection referral)."""
    rule = RULES[MandatoryRule(referral.mandatory_rule)] if referral.mandatory_rule else None
    return rule is not None and not rule.subject_to_consent


def _required(reason: str | None) -> str:
    if reason is None:
        raise Problem(422, "Invalid request", "reason: required for this action")
    return reason


def _sla_hours(document: Mapping[str, int]) -> dict[Urgency, int]:
    return {Urgency(k): int(v) for k, v in document.items()}


def _exclusions(decision: RoutingDecision) -> tuple[ExclusionCount, ...]:
    return tuple(
        ExclusionCount(reason=reason, count=count)
        for reason, count in sorted(decision.exclusion_counts().items())
    )


def _explanation(decision: RoutingDecision) -> RoutingExplanation:
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
        exclusions=_exclusions(decision),
    )
