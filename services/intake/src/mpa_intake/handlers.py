"""What intake does on incoming events: it learns which partner may read which case.

From `mpa.referral.v1`: a partner gains access to a case when it accepts a referral for it
(started, on hold and resumed keep it), and loses it when the referral is declined,
cancelled, completed, failed or re-routed away from it. Whether consent allows sharing is
checked at read time, so a withdrawal takes effect at once, before any cancellation arrives.
"""

from __future__ import annotations

from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_common.uow import UnitOfWork
from mpa_contracts.events.referral import (
    ReferralAcceptedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralOnHoldV1,
    ReferralReroutedV1,
    ReferralResumedV1,
    ReferralStartedV1,
)
from mpa_intake.adapters.repository import GrantStore

REFERRAL_ACCESS_GROUP = "mpa-intake.referral-access"

Holding = ReferralAcceptedV1 | ReferralStartedV1 | ReferralOnHoldV1 | ReferralResumedV1
Ending = ReferralDeclinedV1 | ReferralCompletedV1 | ReferralFailedV1


async def on_referral_holding(uow: UnitOfWork, data: Holding, delivery: Delivery) -> None:
    await _set_grant(uow, data, delivery, active=True)


async def on_referral_ended(uow: UnitOfWork, data: Ending, delivery: Delivery) -> None:
    await _set_grant(uow, data, delivery, active=False)


async def _set_grant(
    uow: UnitOfWork, data: Holding | Ending, delivery: Delivery, *, active: bool
) -> None:
    await GrantStore(uow.session).set_grant(
        referral_id=data.referral_id,
        case_id=data.case_id,
        need_id=data.need_id,
        partner_id=data.partner_id,
        active=active,
        event_type=delivery.envelope.type,
        at=delivery.envelope.time,
    )


async def on_referral_taken_away(
    uow: UnitOfWork, data: ReferralCancelledV1 | ReferralReroutedV1, delivery: Delivery
) -> None:
    await GrantStore(uow.session).revoke(
        data.referral_id, event_type=delivery.envelope.type, at=delivery.envelope.time
    )


# Other referral events (requested, routed, ...) grant nothing and are passed over.
REFERRAL_ACCESS: Subscription[UnitOfWork] = Subscription(
    REFERRAL_ACCESS_GROUP,
    handles(ReferralAcceptedV1, on_referral_holding),
    handles(ReferralStartedV1, on_referral_holding),
    handles(ReferralOnHoldV1, on_referral_holding),
    handles(ReferralResumedV1, on_referral_holding),
    handles(ReferralDeclinedV1, on_referral_ended),
    handles(ReferralCompletedV1, on_referral_ended),
    handles(ReferralFailedV1, on_referral_ended),
    handles(ReferralCancelledV1, on_referral_taken_away),
    handles(ReferralReroutedV1, on_referral_taken_away),
)
