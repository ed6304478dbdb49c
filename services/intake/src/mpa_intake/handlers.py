"""What intake does on incoming events: it learns which partner may read which case.

From `mpa.referral.v1`: a partner gains access to a case when it accepts a referral for it
(started, on hold and resumed keep it), and loses it when the referral is declined,
cancelled, completed, failed or re-routed away from it. Whether consent allows sharing is
checked at read time, so a withdrawal takes effect at once, before any cancellation arrives;
and so is the referral itself (see `app.reads`), so a lost event cannot leave access open.

One handler per event type, `on_x(uow, data, delivery)`, for the shared consumer's handler
table (`REFERRAL_ACCESS`), and a batch handler for where each referral stands
(`REFERRAL_PROGRESS`); every effect is in the unit of work's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpa_common.messaging.subscriptions import Delivery, Subscription, handles
from mpa_contracts.events.referral import (
    REFERRAL_EVENTS,
    REFERRAL_STATE_AFTER,
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
from mpa_contracts.topics import topic_for_event_type
from mpa_intake.adapters.unit_of_work import IntakeUnitOfWork
from mpa_intake.app.casework import ReferralMove, learn_referral_states

REFERRAL_ACCESS_GROUP = "mpa-intake.referral-access"
REFERRAL_PROGRESS_GROUP = "mpa-intake.referral-progress"

# Events of a referral its partner holds: access while the referral is live.
HoldingEvent = ReferralAcceptedV1 | ReferralStartedV1 | ReferralOnHoldV1 | ReferralResumedV1
# Events that end it with the partner named in the event.
EndingEvent = ReferralDeclinedV1 | ReferralCompletedV1 | ReferralFailedV1


async def _set_grant(
    uow: IntakeUnitOfWork, data: HoldingEvent | EndingEvent, delivery: Delivery, *, active: bool
) -> None:
    await uow.grants.set_grant(
        referral_id=data.referral_id,
        case_id=data.case_id,
        need_id=data.need_id,
        partner_id=data.partner_id,
        active=active,
        event_type=delivery.envelope.type,
        at=delivery.envelope.time,
    )


async def on_referral_accepted(
    uow: IntakeUnitOfWork, data: ReferralAcceptedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=True)


async def on_referral_started(
    uow: IntakeUnitOfWork, data: ReferralStartedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=True)


async def on_referral_on_hold(
    uow: IntakeUnitOfWork, data: ReferralOnHoldV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=True)


async def on_referral_resumed(
    uow: IntakeUnitOfWork, data: ReferralResumedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=True)


async def on_referral_declined(
    uow: IntakeUnitOfWork, data: ReferralDeclinedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=False)


async def on_referral_completed(
    uow: IntakeUnitOfWork, data: ReferralCompletedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=False)


async def on_referral_failed(
    uow: IntakeUnitOfWork, data: ReferralFailedV1, delivery: Delivery
) -> None:
    await _set_grant(uow, data, delivery, active=False)


async def on_referral_cancelled(
    uow: IntakeUnitOfWork, data: ReferralCancelledV1, delivery: Delivery
) -> None:
    await uow.grants.revoke(
        data.referral_id, event_type=delivery.envelope.type, at=delivery.envelope.time
    )


async def on_referral_rerouted(
    uow: IntakeUnitOfWork, data: ReferralReroutedV1, delivery: Delivery
) -> None:
    await uow.grants.revoke(
        data.referral_id, event_type=delivery.envelope.type, at=delivery.envelope.time
    )


# Other referral events (requested, routed, ...) grant nothing and are passed over.
# A partner waits on its grant (it reads the case once it accepted): within 100 ms, where
# without gathering a record could wait for the fetch held for other partitions (up to 1 s).
REFERRAL_ACCESS: Subscription[IntakeUnitOfWork] = Subscription(
    REFERRAL_ACCESS_GROUP,
    handles(ReferralAcceptedV1, on_referral_accepted),
    handles(ReferralStartedV1, on_referral_started),
    handles(ReferralOnHoldV1, on_referral_on_hold),
    handles(ReferralResumedV1, on_referral_resumed),
    handles(ReferralDeclinedV1, on_referral_declined),
    handles(ReferralCompletedV1, on_referral_completed),
    handles(ReferralFailedV1, on_referral_failed),
    handles(ReferralCancelledV1, on_referral_cancelled),
    handles(ReferralReroutedV1, on_referral_rerouted),
    gather_ms=100,
)


async def on_referral_progress(uow: IntakeUnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """Where each referral of a case stands, for the closure rule and the reports: a
    partition's batch of referral events at once (one read of the records they move, one
    write), in order."""
    moves = []
    for delivery in deliveries:
        data = delivery.envelope.data
        state = REFERRAL_STATE_AFTER.get(type(data))
        referral_id = getattr(data, "referral_id", None)
        case_id = getattr(data, "case_id", None)
        need_id = getattr(data, "need_id", None)
        if state is None or referral_id is None or case_id is None or need_id is None:
            continue
        moves.append(ReferralMove(referral_id, case_id, need_id, state, delivery.envelope.time))
    await learn_referral_states(uow, moves)


# Every referral event that moves a referral's state: intake follows each referral of its
# cases (a consumer group of its own, so access grants and progress never wait on each other).
# Every event type of the topic moves one or says nothing of it: a batch handler, given a
# partition's batch at once, reads every record of the batch in one statement and writes them
# in another, where one handler per event made two or three round trips each. Progress feeds
# the closure rule and the reports, which no one reads within a quarter of a second: its
# fetches gather (access grants, which a partner waits on, do not).
REFERRAL_PROGRESS: Subscription[IntakeUnitOfWork] = Subscription(
    REFERRAL_PROGRESS_GROUP,
    batch_handler=on_referral_progress,
    topics=tuple(dict.fromkeys(topic_for_event_type(e.event_type).name for e in REFERRAL_EVENTS)),
    gather_ms=250,
)
