"""Routing: the decision for a referral, the place it reserves, re-routing, the preview a
caseworker sees before referring by hand, and another try for unroutable referrals once
the directory changes.

Capacity is reserved under the service row's lock (the database is the arbiter); the rest
of what routing reads comes from the directory snapshot. None of this commits: it runs in
the caller's unit of work.
"""

from __future__ import annotations

from datetime import datetime

from mpa_common.uow import Cause
from mpa_contracts.vocabularies import (
    NeedCategory,
    ReferralState,
    RerouteCause,
    UnroutableReason,
)
from mpa_referral.app.common import ReferralPolicy, save
from mpa_referral.app.ports import Timer, UnitOfWorkPort
from mpa_referral.domain.cases import CaseNeed, CaseProfile
from mpa_referral.domain.referral import Referral
from mpa_referral.domain.routing import (
    NO_DECISION,
    RoutingDecision,
    RoutingRequest,
    RoutingRule,
    request_for,
    route,
)
from mpa_referral.domain.sla import acceptance_due

# Unroutable referrals worth another try when the directory changes.
RETRYABLE_UNROUTABLE = (
    # Not BEST_INTERESTS_DETERMINATION_REQUIRED: those wait for the determination, not for
    # the directory (app.case_events.best_interests_determined routes them).
    UnroutableReason.NO_MATCHING_SERVICE.value,
    UnroutableReason.ALL_CANDIDATES_EXCLUDED.value,
    UnroutableReason.ALL_CANDIDATES_DECLINED.value,
)


async def _decide(
    uow: UnitOfWorkPort, category: NeedCategory, country: str, request: RoutingRequest
) -> RoutingDecision:
    listings = await uow.directory.listings_for(category, country)
    records = await uow.directory.partner_records({s.partner_id for s in listings})
    return route(request, listings, records)


async def decide(
    uow: UnitOfWorkPort, policy: ReferralPolicy, referral: Referral, case: CaseProfile
) -> RoutingDecision:
    """The routing decision for a referral now (reads only; reserves nothing)."""
    # A referral never routed before has no service that turned it down.
    excluded = (
        await uow.referrals.tried_service_ids(referral.id) if referral.attempt else frozenset()
    )
    request = request_for(
        case,
        category=referral.category,
        urgency=referral.urgency,
        country=referral.country,
        rule=referral.mandatory_rule,
        acceptance_window_seconds=policy.acceptance_window_seconds(referral.urgency),
        excluded=excluded,
        chosen_service_id=referral.chosen_service_id,
    )
    return await _decide(uow, referral.category, referral.country, request)


async def preview(
    uow: UnitOfWorkPort, policy: ReferralPolicy, case: CaseProfile, need: CaseNeed
) -> RoutingDecision:
    """The ranked candidates a need would get now, before anyone refers it."""
    country = need.assistance_country or case.country
    request = request_for(
        case,
        category=need.category,
        urgency=need.urgency,
        country=country,
        rule=need.mandatory_rule,
        acceptance_window_seconds=policy.acceptance_window_seconds(need.urgency),
    )
    return await _decide(uow, need.category, country, request)


async def route_referral(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    referral: Referral,
    case: CaseProfile,
    now: datetime,
    *,
    retry: bool = False,
) -> RoutingDecision:
    """Routes a requested (or, on `retry`, unroutable) referral to the best service that
    still has a place; otherwise it becomes unroutable (a retry that fails changes
    nothing). Returns the decision; the caller saves the referral."""
    if not (referral.statutory or referral.consent_override_reason or case.allows_referral(now)):
        if not retry:
            referral.give_up(UnroutableReason.NO_CONSENT, NO_DECISION, now)
        return NO_DECISION
    if not (referral.consent_override_reason or case.allows_transfer_to(referral.country, now)):
        # A transnational referral (help wanted in another country than the person's) sends
        # their data abroad: it waits, unroutable with that reason, for a transfer consent
        # naming the country (app.case_events.transfer_consent_recorded routes it). Only a
        # supervisor's override where a life is at risk goes without (vital interests, GDPR
        # art. 49(1)(f)); a statutory duty is national and does not.
        if not retry:
            referral.give_up(UnroutableReason.AWAITING_TRANSFER_CONSENT, NO_DECISION, now)
        return NO_DECISION
    if case.awaits_best_interests_determination(referral.category):
        # A child's durable solution or family is decided by a best-interests panel
        # first; the referral waits, unroutable with that reason, and is routed when the
        # determination is recorded (app.case_events.best_interests_determined).
        if not retry:
            referral.give_up(
                UnroutableReason.BEST_INTERESTS_DETERMINATION_REQUIRED, NO_DECISION, now
            )
        return NO_DECISION
    decision = await decide(uow, policy, referral, case)
    while (candidate := decision.chosen) is not None:
        taken = await uow.directory.reserve_place(candidate.service_id)
        if taken is not None:
            hours = await uow.directory.sla_hours(candidate.service_id)
            due = acceptance_due(referral.urgency, now, policy.acceptance_sla, hours)
            referral.route(decision, holds_capacity=taken, now=now, due=due)
            return decision
        # Another routing took its last place (or it left) since the snapshot said otherwise.
        decision = decision.without(candidate.service_id, RoutingRule.NO_CAPACITY)
    if not retry:
        referral.give_up(decision.unroutable_reason(), decision, now)
    return decision


async def reroute_referral(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    referral: Referral,
    case: CaseProfile,
    why: RerouteCause,
    cause: Cause,
    now: datetime,
) -> None:
    """Back to routing and on to the next candidate, or unroutable once the referral has
    been re-routed more often than the policy allows. What it recorded so far is saved
    first: routing must see the answer that turned the last service down."""
    referral.reroute(why)
    await save(uow, referral, cause, now)
    if referral.reroute_count > policy.max_reroutes:
        referral.give_up(UnroutableReason.REROUTE_LIMIT_REACHED, NO_DECISION, now)
    else:
        await route_referral(uow, policy, referral, case, now)


async def retry_unroutable(
    uow: UnitOfWorkPort, policy: ReferralPolicy, timer: Timer, now: datetime
) -> str:
    """A service joined or changed (the timer names it): its category's unroutable
    referrals where it works get another try. Returns the timer's outcome."""
    service = await uow.directory.get_service(timer.subject_id)
    if service is None:
        return "obsolete"
    routed = 0
    for referral_id in await uow.referrals.retryable_unroutable(
        NeedCategory(service["category"]), service["coverage_countries"], RETRYABLE_UNROUTABLE
    ):
        referral = await uow.referrals.get(referral_id, for_update=True, skip_locked=True)
        if referral is None or referral.state is not ReferralState.UNROUTABLE:
            continue  # another replica is on it, or it moved on
        case = await uow.cases.get(referral.case_id)
        if case is None:
            continue
        await route_referral(uow, policy, referral, case, now, retry=True)
        if referral.is_open:  # routed this time
            routed += 1
            await save(uow, referral, Cause.story(case.correlation_id), now)
    return f"routed:{routed}"
