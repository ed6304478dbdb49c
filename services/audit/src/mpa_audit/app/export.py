"""Use case: export a range of the log with the signed tree head it ends at (JSON Lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import LogStore
from mpa_audit.app.tree_heads import TreeHeads
from mpa_audit.domain.proof_plans import consistency_proof_plan
from mpa_audit_verify.export import ConsistencyEvidence, ExportHeader, leaf_line
from mpa_common.problems import Problem

BATCH = 5000
"""Leaves read per query while streaming."""


async def prepare_export(
    sessions: async_sessionmaker[AsyncSession],
    tree_heads: TreeHeads,
    *,
    start: int,
    tree_size: int | None,
    previous_tree_size: int | None,
) -> ExportHeader:
    """The header of an export of leaves [start, tree_size) (default: the current size),
    with the tree head of that size (signed now if need be), and, given an earlier size the
    auditor holds a tree head of, a consistency proof from it."""
    head = await tree_heads.at(tree_size)
    size = head.tree_size
    if start > size:
        raise Problem(422, "Invalid range", f"start {start} is past tree size {size}")
    if previous_tree_size is not None and not 0 < previous_tree_size <= size:
        raise Problem(
            422,
            "Invalid previous tree size",
            f"previous_tree_size must be in 1..{size}, got {previous_tree_size}",
        )
    async with sessions() as session:
        store = LogStore(session)
        peaks = (await store.compact_range(start)).peaks
        consistency = None
        if previous_tree_size is not None:
            plan = consistency_proof_plan(previous_tree_size, size)
            proof = plan.assemble(await store.get_nodes(plan.node_ids))
            consistency = ConsistencyEvidence(previous_tree_size, tuple(proof))
    return ExportHeader(tree_heads.origin, start, size, peaks, head.checkpoint, consistency)


async def export_lines(
    sessions: async_sessionmaker[AsyncSession], header: ExportHeader
) -> AsyncIterator[bytes]:
    """The export's bytes: the header line, then each leaf line, read in batches (leaves
    below a committed size never change, so the batches need no common snapshot)."""
    yield header.to_line().encode()
    for batch_start in range(header.start, header.tree_size, BATCH):
        async with sessions() as session:
            leaves = await LogStore(session).leaves(
                batch_start, min(batch_start + BATCH, header.tree_size)
            )
        yield b"".join(leaf_line(seq, leaf) for seq, leaf in leaves)
