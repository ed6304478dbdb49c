"""What intake does on incoming events: it learns which partner may read which case.

From `mpa.referral.v1`: a partner gains access to a case when it accepts a referral for it
(started, on hold and resumed keep it), and loses it when the referral is declined,
cancelled, completed, failed or re-routed away from it. Whether consent allows sharing is
checked at read time, so a withdrawal takes effect at once, before any cancellation arrives.
"""

from __future__ import annotations

from mpa_common.uow import UnitOfWork
from mpa_contracts.envelope import Envelope
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

_HOLDING = (ReferralAcceptedV1, ReferralStartedV1, ReferralOnHoldV1, ReferralResumedV1)
_ENDING = (ReferralDeclinedV1, ReferralCompletedV1, ReferralFailedV1)


async def handle_referral_event(uow: UnitOfWork, envelope: Envelope) -> None:
    data = envelope.data
    grants = GrantStore(uow.session)
    if isinstance(data, (*_HOLDING, *_ENDING)):
        await grants.set_grant(
            referral_id=data.referral_id,
            case_id=data.case_id,
            need_id=data.need_id,
            partner_id=data.partner_id,
            active=isinstance(data, _HOLDING),
            event_type=envelope.type,
            at=envelope.time,
        )
    elif isinstance(data, (ReferralCancelledV1, ReferralReroutedV1)):
        await grants.revoke(data.referral_id, event_type=envelope.type, at=envelope.time)
    # Other referral events (requested, routed, ...) grant nothing.
