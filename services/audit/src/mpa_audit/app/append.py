"""Use case: append one consumed event to the log as the next leaf."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.adapters.log_store import DUPLICATE, LogStore
from mpa_audit.domain.leaf import RecordOrigin, leaf_bytes, summarize_leaf
from mpa_audit_verify.hashing import leaf_hash
from mpa_contracts.envelope import Envelope


async def append_event(
    session: AsyncSession, envelope: Envelope, origin: RecordOrigin
) -> int | None:
    """Append the event as leaf number ``tree size`` within the caller's transaction; returns
    its seq, or None when the event is in the log already. The caller commits (the
    consumer's unit of work, with the processed-event row).

    Appends are serialised by a transaction-level lock, so with any number of replicas the
    seqs stay contiguous and each append extends the committed right edge of the tree. An
    event already logged (read again by a replay under another consumer group, or
    republished at a new offset) adds no leaf; its offset is accounted as a duplicate.
    """
    leaf = leaf_bytes(envelope, origin)
    store = LogStore(session)
    await store.lock_appends()
    seq, logged = await store.append_state(envelope.id)
    if logged:
        await store.record_skipped(origin, envelope.id, DUPLICATE)
        return None
    frontier = await store.compact_range(seq)
    completed = frontier.append(leaf_hash(leaf))
    await store.insert_leaf(seq, leaf, completed[0].hash, summarize_leaf(leaf))
    await store.insert_nodes(completed)
    return seq
