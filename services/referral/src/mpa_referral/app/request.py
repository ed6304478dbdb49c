"""Requesting referrals: every need of a case that is due one (after a case event), and
one need by hand, optionally to a chosen service (a caseworker's request)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from mpa_common.uow import Cause
from mpa_contracts.vocabularies import ConsentOverrideReason, ReferralState
from mpa_referral.app.common import ReferralContext, ReferralPolicy, save
from mpa_referral.app.ports import UnitOfWorkPort
from mpa_referral.app.queries import ReferralView, view_of
from mpa_referral.app.routing import route_referral
from mpa_referral.domain.actors import SYSTEM, Actor
from mpa_referral.domain.cases import CaseNeed, CaseProfile, CaseStatus, referred_already
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.errors import (
    BestInterestsDeterminationRequired,
    ChosenServiceRefused,
    Conflict,
    InvalidRequest,
    NotFound,
)
from mpa_referral.domain.lifecycle import OPEN_STATES
from mpa_referral.domain.mandatory import (
    MandatoryRule,
    is_statutory,
    mandatory_need_id,
    mandatory_referrals,
)
from mpa_referral.domain.referral import Referral
from mpa_referral.domain.routing import RoutingRule


async def request_and_route(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    case: CaseProfile,
    need: CaseNeed,
    actor: Actor,
    cause: Cause,
    now: datetime,
    *,
    mandatory_rule: MandatoryRule | None = None,
    chosen_service_id: uuid.UUID | None = None,
    chosen_partner_id: uuid.UUID | None = None,
    override: ConsentOverrideReason | None = None,
) -> Referral:
    """Creates a referral for one need, routes it at once and saves it."""
    referral = Referral.request(
        uuid.uuid4(),
        need,
        country=need.assistance_country or case.country,
        actor=actor,
        mandatory_rule=mandatory_rule,
        chosen_service_id=chosen_service_id,
        chosen_partner_id=chosen_partner_id,
        override=override,
    )
    await route_referral(uow, policy, referral, case, now)
    await save(uow, referral, cause, now)
    return referral


async def refer_case_needs(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    case_id: uuid.UUID,
    actor: Actor,
    cause: Cause,
    now: datetime,
) -> list[Referral]:
    """Refers every need of a case that is due a referral: the requested needs when the
    consent covers referral, and the mandatory ones (some regardless of consent). A need
    referred before is not referred again (unless only consent's withdrawal ended it)."""
    case = await uow.cases.get(case_id, for_update=True)
    if case is None or case.status is CaseStatus.CLOSED:
        return []
    needs = await uow.cases.needs_of(case_id)
    outcomes = await uow.referrals.outcomes_by_need(case_id)
    return await _refer(uow, policy, case, needs, outcomes, actor, cause, now)


async def refer_new_case(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    case: CaseProfile,
    needs: list[CaseNeed],
    actor: Actor,
    cause: Cause,
    now: datetime,
) -> list[Referral]:
    """`refer_case_needs` for a case registered in this very transaction: its needs are the
    registration's and it has no referral yet, so nothing needs reading back."""
    return await _refer(uow, policy, case, needs, {}, actor, cause, now)


async def _refer(
    uow: UnitOfWorkPort,
    policy: ReferralPolicy,
    case: CaseProfile,
    needs: list[CaseNeed],
    outcomes: dict[uuid.UUID, list[tuple[ReferralState, str | None]]],
    actor: Actor,
    cause: Cause,
    now: datetime,
) -> list[Referral]:
    case_id = case.case_id
    consented = case.allows_referral(now)
    rule_of_need: dict[uuid.UUID, MandatoryRule] = {}
    for mandatory in mandatory_referrals(case):
        if mandatory.subject_to_consent and not consented:
            continue
        if mandatory.subject_to_consent and not await uow.directory.any_designated(
            mandatory.designation, case.country, case.admin_area
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
                need_id, case_id, mandatory.category, mandatory.urgency, None, mandatory.rule
            )
            await uow.cases.add_needs([added])
            needs.append(added)
        rule_of_need[need_id] = mandatory.rule

    created: list[Referral] = []
    for need in needs:
        rule = rule_of_need.get(need.need_id)
        if not (consented or is_statutory(rule)):
            continue
        if referred_already(outcomes.get(need.need_id, [])):
            continue
        requester = actor if need.mandatory_rule is None else SYSTEM
        created.append(
            await request_and_route(
                uow, policy, case, need, requester, cause, now, mandatory_rule=rule
            )
        )
    return created


@dataclass(frozen=True, slots=True)
class RequestReferral:
    """Refer one need of a case by hand, optionally to a chosen service."""

    case_id: uuid.UUID
    need_id: uuid.UUID
    actor: Actor
    viewer: Viewer  # what the answer may show
    service_id: uuid.UUID | None = None
    # A supervisor's reason to refer without consent (the api lets only supervisors say).
    consent_override_reason: ConsentOverrideReason | None = None


async def request_referral(ctx: ReferralContext, command: RequestReferral) -> ReferralView:
    """Refers the need and answers with the referral as the requester may see it. A
    referral to a chosen service that fails a hard filter is refused, and nothing stored."""
    now = ctx.clock()
    async with ctx.units_of_work() as uow:
        case = await uow.cases.get(command.case_id, for_update=True)
        if case is None:
            raise NotFound("No such case")
        need = next(
            (n for n in await uow.cases.needs_of(case.case_id) if n.need_id == command.need_id),
            None,
        )
        if need is None:
            raise NotFound("need_id: no such need in this case")
        if case.status is CaseStatus.CLOSED:
            raise Conflict("The case is closed")
        if case.awaits_best_interests_determination(need.category):
            raise BestInterestsDeterminationRequired(need.category.value)
        consented = case.allows_referral(now)
        if not (consented or need.statutory or command.consent_override_reason):
            raise Conflict("The case has no consent to referral")
        override = command.consent_override_reason if not consented else None
        chosen_partner = None
        if command.service_id is not None:
            service = await uow.directory.get_service(command.service_id)
            if service is None:
                raise InvalidRequest("service_id", "no such service")
            if service["category"] != need.category.value:
                raise InvalidRequest("service_id", "the service is of another category")
            chosen_partner = service["partner_id"]
        open_referrals = await uow.referrals.of_case(case.case_id, states=OPEN_STATES)
        if any(r.need_id == need.need_id for r in open_referrals):
            raise Conflict("need_id: this need has an open referral")
        referral = Referral.request(
            uuid.uuid4(),
            need,
            country=need.assistance_country or case.country,
            actor=command.actor,
            mandatory_rule=need.mandatory_rule,
            chosen_service_id=command.service_id,
            chosen_partner_id=chosen_partner,
            override=override,
        )
        decision = await route_referral(uow, ctx.policy, referral, case, now)
        if command.service_id is not None and referral.state is not ReferralState.ROUTED:
            rule = decision.rule_for(command.service_id) or RoutingRule.OUTSIDE_COVERAGE
            raise ChosenServiceRefused(rule.value)
        await save(uow, referral, Cause.story(case.correlation_id), now)
        view = await view_of(uow, referral, command.viewer)
        await uow.commit()
    return view
