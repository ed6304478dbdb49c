"""What the referral use cases share: the policy, the context they run in, the clock, and
saving a referral with everything its changes recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mpa_common.uow import Cause
from mpa_contracts.events.base import ActorEventData
from mpa_contracts.vocabularies import SlaMilestone, Urgency
from mpa_referral.app.ports import UnitOfWorkFactory, UnitOfWorkPort
from mpa_referral.domain.referral import HistoryEntry, Referral

ACCEPTANCE_SLA_TIMER = "referral.acceptance_sla"
START_SLA_TIMER = "referral.start_sla"
DIRECTORY_RETRY_TIMER = "directory.retry_unroutable"
TIMER_OF_MILESTONE: Mapping[SlaMilestone, str] = {
    SlaMilestone.ACCEPTANCE: ACCEPTANCE_SLA_TIMER,
    SlaMilestone.SERVICE_START: START_SLA_TIMER,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ReferralPolicy:
    acceptance_sla: Mapping[Urgency, timedelta]
    start_sla: Mapping[Urgency, timedelta]  # from acceptance to the start of the service
    max_reroutes: int  # re-routes before a referral is given up as unroutable

    def acceptance_window_seconds(self, urgency: Urgency) -> float:
        return self.acceptance_sla[urgency].total_seconds()


@dataclass(frozen=True, slots=True)
class ReferralContext:
    """What every use case runs with: a new unit of work per call, the policy, a clock."""

    units_of_work: UnitOfWorkFactory
    policy: ReferralPolicy
    clock: Callable[[], datetime] = field(default=utc_now)


async def save(uow: UnitOfWorkPort, referral: Referral, cause: Cause, now: datetime) -> None:
    """Stores the referral and what each recorded change says: its event (to the outbox),
    its routing attempt or answer, the place it gave back, the deadline it set, and its
    history entry (bound to the event's id)."""
    if referral.created_at is None:
        await uow.referrals.add(referral)
    else:
        await uow.referrals.update(referral)
    entries: list[HistoryEntry] = []
    for change in referral.pull_changes():
        envelope = uow.emit(change.event, cause=cause, subject=f"referral/{referral.id}")
        if change.answered is not None:
            await uow.referrals.record_response(
                referral.id, change.attempt, change.answered, change.partner_id
            )
        if change.decided is not None:
            await uow.referrals.add_attempt(referral.id, change.decided)
        if change.released_place is not None:
            await uow.directory.release_place(change.released_place)
        if change.deadline is not None:
            await uow.timers.schedule(
                kind=TIMER_OF_MILESTONE[change.deadline.milestone],
                subject_id=referral.id,
                due_at=change.deadline.due_at,
                payload={"attempt": change.deadline.attempt},
            )
        data = change.event
        actor_id, role = (
            (data.actor_id, data.actor_role.value)
            if isinstance(data, ActorEventData)
            else (change.actor.actor_id, change.actor.role.value)
        )
        entries.append(
            HistoryEntry(
                at=now,
                actor_id=actor_id,
                actor_role=role,
                from_state=change.from_state,
                to_state=change.to_state,
                event_type=data.event_type,
                event_id=envelope.id,
                reason=change.reason,
                note=change.note,
                partner_id=change.partner_id,
            )
        )
    if entries:
        await uow.referrals.add_history(referral.id, entries)
