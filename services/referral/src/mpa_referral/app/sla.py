"""Deadlines of a referral, as the timer worker fires them: a partner that neither accepted
nor declined in time loses the referral to the next candidate; one that accepted but did not
start in time is announced (not re-routed). A deadline that something else overtook (an
answer, a cancellation, a re-route) is obsolete."""

from __future__ import annotations

from datetime import datetime

from mpa_common.uow import Cause
from mpa_contracts.vocabularies import ReferralState, RerouteCause
from mpa_referral.app.common import ReferralPolicy, save
from mpa_referral.app.ports import Timer, UnitOfWorkPort
from mpa_referral.app.routing import reroute_referral
from mpa_referral.domain.referral import Referral


async def _still_awaiting(
    uow: UnitOfWorkPort, timer: Timer, state: ReferralState
) -> Referral | None:
    """The timer's referral, locked, if it still waits in `state` at the timer's attempt."""
    referral = await uow.referrals.get(timer.subject_id, for_update=True)
    attempt = timer.payload.get("attempt")
    if referral is None or not isinstance(attempt, int) or not referral.awaits(state, attempt):
        return None
    return referral


async def on_acceptance_sla(
    uow: UnitOfWorkPort, policy: ReferralPolicy, timer: Timer, now: datetime
) -> str:
    """The partner neither accepted nor declined in time: record the breach, re-route."""
    referral = await _still_awaiting(uow, timer, ReferralState.ROUTED)
    if referral is None:
        return "obsolete"  # answered, cancelled or re-routed before the deadline
    case = await uow.cases.get(referral.case_id)
    if case is None:
        return "obsolete"
    cause = Cause.story(case.correlation_id)
    referral.breach_acceptance_sla()
    await reroute_referral(uow, policy, referral, case, RerouteCause.SLA_BREACHED, cause, now)
    await save(uow, referral, cause, now)
    return "fired"


async def on_start_sla(
    uow: UnitOfWorkPort, policy: ReferralPolicy, timer: Timer, now: datetime
) -> str:
    """The partner accepted but did not start in time: record and announce the breach."""
    referral = await _still_awaiting(uow, timer, ReferralState.ACCEPTED)
    if referral is None:
        return "obsolete"  # started, cancelled or re-routed before the deadline
    case = await uow.cases.get(referral.case_id)
    referral.breach_start_sla(timer.due_at)
    await save(uow, referral, Cause.story(case.correlation_id if case else None), now)
    return "fired"
