"""Use cases: append consumed events to the log in batches, and account for skipped offsets.

One batch is one append: one lock, one read of the tree's right edge and of what the log
holds of the batch (event ids, accounts, re-read offsets), leaves hashed in memory, and
leaves, nodes, skipped offsets and accounts inserted in bulk (`plan_batch` decides all of
it). Appends are serialised by a transaction-level lock, so with any number of replicas the
seqs stay contiguous and each append extends the committed right edge of the tree.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from mpa_audit.app.ports import LogRepository, UnitOfWorkFactory
from mpa_audit.domain.accounting import BatchWrite, Observation, Outcome, plan_batch, rereads
from mpa_audit.domain.leaf import RecordOrigin, encode_leaf
from mpa_contracts.envelope import Envelope

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch added: leaves, and offsets accounted without a leaf."""

    logged: int
    duplicates: int
    replays: int
    dead_lettered: int
    tree_size: int
    new_epochs: int

    @classmethod
    def of(cls, write: BatchWrite) -> BatchOutcome:
        return cls(
            logged=write.count(Outcome.LOGGED),
            duplicates=write.count(Outcome.DUPLICATE),
            replays=write.count(Outcome.REPLAY_FOR_OTHERS),
            dead_lettered=write.count(Outcome.DEAD_LETTERED),
            tree_size=write.tree_size,
            new_epochs=len(write.new_epochs),
        )


def observe_event(envelope: Envelope, origin: RecordOrigin) -> Observation:
    """The observation of an event consumed at ``origin``: its leaf, to be logged."""
    leaf, summary = encode_leaf(envelope, origin)
    return Observation(origin, envelope.id, leaf=leaf, summary=summary)


def observe_skip(origin: RecordOrigin, event_id: UUID | None, outcome: Outcome) -> Observation:
    """The observation of an offset the consumer reports as adding no leaf."""
    return Observation(origin, event_id, skipped=outcome)


async def append_batch(
    log_store: LogRepository, observations: Sequence[Observation]
) -> BatchOutcome:
    """Append ``observations`` (in the order consumed) within the caller's transaction (the
    consumer's, which commits it with the offsets); the caller commits."""
    if not observations:
        return BatchOutcome(0, 0, 0, 0, 0, 0)
    await log_store.lock_appends()
    event_ids = list({o.event_id for o in observations if o.event_id is not None})
    partitions = list({(o.origin.topic, o.origin.partition) for o in observations})
    state = await log_store.append_state(event_ids, partitions)
    if ranges := rereads(state.partitions, observations):
        state = replace(state, records=await log_store.records_at(ranges))
    write = plan_batch(state, observations)
    if not write.empty:
        await log_store.write_batch(write)
    for account in write.new_epochs:
        log.warning(
            "offset reused: the partition's offsets are accounted in a new epoch",
            extra={
                "topic": account.topic,
                "partition": account.partition,
                "epoch": account.epoch,
            },
        )
    return BatchOutcome.of(write)


async def append_events(
    uow_factory: UnitOfWorkFactory, events: Sequence[tuple[Envelope, RecordOrigin]]
) -> BatchOutcome:
    """Append events read outside a consumer (tools, benchmarks) in one transaction."""
    observations = [observe_event(envelope, origin) for envelope, origin in events]
    async with uow_factory() as uow:
        outcome = await append_batch(uow.log, observations)
        await uow.commit()
    return outcome


async def record_skip(
    uow_factory: UnitOfWorkFactory,
    origin: RecordOrigin,
    event_id: UUID | None,
    outcome: Outcome,
) -> BatchOutcome:
    """Account for an offset that added no leaf, in a transaction of its own."""
    async with uow_factory() as uow:
        result = await append_batch(uow.log, [observe_skip(origin, event_id, outcome)])
        await uow.commit()
    log.info(
        "offset not logged",
        extra={
            "reason": outcome.value,
            "topic": origin.topic,
            "partition": origin.partition,
            "offset": origin.offset,
        },
    )
    return result
