"""What the audit service does with what it consumes: every event of every main topic is
appended to the log, a batch at a time, and every offset that adds no leaf is accounted for
(or, dead-lettered, named as missing until its event is in the log).

`log_subscription` is the audit's one subscription: a batch handler over every main topic,
no ledger (a leaf is unique by event id already, so a redelivered event adds none and its
offset is accounted as a duplicate without a processed_events row per event), a skip
recorder, and a single lane: appends are serialised by the log's append lock anyway, so the
consumer's partitions share one task, and a batch (one transaction: one lock, one read of the
tree's edge, one insert) takes what is buffered across all of them, instead of a task per
partition each paying a transaction of its own and queueing on the others for the lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from mpa_audit.app.append import append_batch, observe_event, record_skip
from mpa_audit.app.ports import LogRepository, UnitOfWorkFactory
from mpa_audit.domain.accounting import Outcome
from mpa_audit.domain.leaf import RecordOrigin
from mpa_common.messaging.subscriptions import Delivery, SkipHook, SkipReason, Subscription
from mpa_common.messaging.subscriptions import RecordOrigin as ConsumedFrom
from mpa_common.uow import UnitOfWork
from mpa_contracts.topics import MAIN_TOPICS

LOG_CONSUMER_GROUP = "mpa-audit.log"
# Every event reaches the log within half a second (the lag goal is 5 s after a burst):
# under load, a fetch and an append carry half a second's events, not one event each.
LOG_GATHER_MS = 500

BatchHandler = Callable[[UnitOfWork, Sequence[Delivery]], Awaitable[None]]

SKIP_OUTCOMES = {
    SkipReason.DUPLICATE: Outcome.DUPLICATE,
    SkipReason.REPLAY_FOR_OTHERS: Outcome.REPLAY_FOR_OTHERS,
    SkipReason.DEAD_LETTERED: Outcome.DEAD_LETTERED,
}
"""Duplicates and replays for other groups are accounted; a dead letter is not."""


def _origin(consumed: ConsumedFrom) -> RecordOrigin:
    return RecordOrigin(consumed.topic, consumed.partition, consumed.offset)


def log_batch_handler(repository: Callable[[UnitOfWork], LogRepository]) -> BatchHandler:
    """The batch handler: appends all new deliveries of a batch (of any of the partitions) in
    the consumer's transaction (the consumer commits them with their offsets; a rollback
    re-runs them)."""

    async def log_batch(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        observations = [observe_event(d.envelope, _origin(d.origin)) for d in deliveries]
        await append_batch(repository(uow), observations)

    return log_batch


def skip_recorder(uow_factory: UnitOfWorkFactory) -> SkipHook:
    """Accounts, in a transaction of its own, for each offset the consumer passed over."""

    async def on_skipped(consumed: ConsumedFrom, event_id: UUID | None, reason: SkipReason) -> None:
        await record_skip(uow_factory, _origin(consumed), event_id, SKIP_OUTCOMES[reason])

    return on_skipped


def log_subscription(
    repository: Callable[[UnitOfWork], LogRepository],
    units_of_work: UnitOfWorkFactory,
    *,
    group: str = LOG_CONSUMER_GROUP,
) -> Subscription[UnitOfWork]:
    """The log consumer's subscription: ``repository`` is the log within the consumer's
    transaction, ``units_of_work`` what the skip recorder opens its own with."""
    return Subscription(
        group,
        batch_handler=log_batch_handler(repository),
        topics=[topic.name for topic in MAIN_TOPICS],
        ledger=False,
        on_skipped=skip_recorder(units_of_work),
        gather_ms=LOG_GATHER_MS,
        single_lane=True,
    )
