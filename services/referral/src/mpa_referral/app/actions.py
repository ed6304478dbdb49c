"""The partner's actions on a referral it holds (accept, decline, start, hold, resume,
complete, fail) and the referring side's cancellation. A decline re-routes at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from mpa_common.uow import Cause
from mpa_contracts.vocabularies import (
    CancelReason,
    HoldReason,
    OutcomeCode,
    ReferralStatusReason,
    RerouteCause,
)
from mpa_referral.app.common import ReferralContext, save
from mpa_referral.app.queries import ReferralView, view_of
from mpa_referral.app.routing import reroute_referral
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.disclosure import Viewer
from mpa_referral.domain.errors import Conflict, InvalidRequest, NotFound
from mpa_referral.domain.lifecycle import Action

# The reason (or outcome) code each action requires.
REASON_OF: dict[Action, type[StrEnum]] = {
    Action.DECLINE: ReferralStatusReason,
    Action.HOLD: HoldReason,
    Action.COMPLETE: OutcomeCode,
    Action.FAIL: ReferralStatusReason,
    Action.CANCEL: CancelReason,
}
ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.DECLINE,
        Action.START,
        Action.HOLD,
        Action.RESUME,
        Action.COMPLETE,
        Action.FAIL,
        Action.CANCEL,
    }
)


@dataclass(frozen=True, slots=True)
class ActOnReferral:
    referral_id: uuid.UUID
    action: Action
    actor: Actor  # a partner's staff name their partner: they act only on what it holds
    viewer: Viewer  # what the answer may show
    reason: StrEnum | None = None  # the code the action requires (REASON_OF)
    note: str | None = None  # kept in the history (encrypted), never in events


async def act_on_referral(ctx: ReferralContext, command: ActOnReferral) -> ReferralView | None:
    """Applies the action; answers with the referral as the actor may now see it (None
    once the actor no longer may: a partner that declined it)."""
    action, actor, note = command.action, command.actor, command.note or None
    if action not in ACTIONS:
        raise Conflict(f"{action.value} is not an action on a referral")
    wanted = REASON_OF.get(action)
    reason = command.reason
    if wanted is not None and not isinstance(reason, wanted):
        raise InvalidRequest("reason", "required for this action")
    now = ctx.clock()
    async with ctx.units_of_work() as uow:
        referral = await uow.referrals.get(command.referral_id, for_update=True)
        if referral is None or (
            actor.partner_id is not None and referral.partner_id != actor.partner_id
        ):
            raise NotFound("No such referral")
        case = await uow.cases.get(referral.case_id)
        if note is not None and (case is None or case.personal_data_erased):
            raise Conflict("note: the case's personal data was erased; no note is kept")
        cause = Cause.story(case.correlation_id if case else None)
        if action is Action.ACCEPT:
            due = now + ctx.policy.start_sla[referral.urgency]
            referral.accept(actor, now=now, start_due=due, note=note)
        elif action is Action.DECLINE:
            assert isinstance(reason, ReferralStatusReason)
            referral.decline(actor, reason, note=note)
            if case is not None:
                await reroute_referral(
                    uow, ctx.policy, referral, case, RerouteCause.DECLINED, cause, now
                )
        elif action is Action.START:
            referral.start(actor, note=note)
        elif action is Action.HOLD:
            assert isinstance(reason, HoldReason)
            referral.hold(actor, reason, note=note)
        elif action is Action.RESUME:
            referral.resume(actor, note=note)
        elif action is Action.COMPLETE:
            assert isinstance(reason, OutcomeCode)
            referral.complete(actor, reason, now=now, note=note)
        elif action is Action.FAIL:
            assert isinstance(reason, ReferralStatusReason)
            referral.fail(actor, reason, now=now, note=note)
        else:
            assert isinstance(reason, CancelReason)
            referral.cancel(actor, reason, now=now, note=note)
        await save(uow, referral, cause, now)
        view = (
            await view_of(uow, referral, command.viewer)
            if command.viewer.may_see(referral)
            else None
        )
        await uow.commit()
    return view
