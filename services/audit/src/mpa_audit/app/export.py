"""Use case: export a range of the log with the signed tree head it ends at (JSON Lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mpa_audit.app.ports import UnitOfWorkFactory
from mpa_audit.app.proofs import consistency_between
from mpa_audit.app.tree_heads import TreeHeads
from mpa_audit.domain.errors import InvalidPreviousTreeSize, InvalidRange
from mpa_audit_verify.export import ConsistencyEvidence, ExportHeader, leaf_line

BATCH = 5000
"""Leaves read per query while streaming."""


async def prepare_export(
    uow_factory: UnitOfWorkFactory,
    tree_heads: TreeHeads,
    *,
    start: int,
    tree_size: int | None,
    previous_tree_size: int | None,
) -> ExportHeader:
    """The header of an export of leaves [start, tree_size) (default: the current size),
    with the tree head of that size (signed and witnessed now if need be) and its
    cosignatures, and, given an earlier size the auditor holds a tree head of, a consistency
    proof from it."""
    head = await tree_heads.at(tree_size)
    size = head.tree_size
    if start > size:
        raise InvalidRange(start, size)
    if previous_tree_size is not None and not 0 < previous_tree_size <= size:
        raise InvalidPreviousTreeSize(previous_tree_size, size)
    async with uow_factory() as uow:
        peaks = (await uow.log.compact_range(start)).peaks
        consistency = None
        if previous_tree_size is not None:
            proof = await consistency_between(uow.log, previous_tree_size, size)
            consistency = ConsistencyEvidence(previous_tree_size, tuple(proof))
    return ExportHeader(tree_heads.origin, start, size, peaks, head.checkpoint, consistency)


async def export_lines(
    uow_factory: UnitOfWorkFactory, header: ExportHeader
) -> AsyncIterator[bytes]:
    """The export's bytes: the header line, then each leaf line, read in batches (leaves
    below a committed size never change, so the batches need no common snapshot)."""
    yield header.to_line().encode()
    for batch_start in range(header.start, header.tree_size, BATCH):
        async with uow_factory() as uow:
            leaves = await uow.log.leaves(batch_start, min(batch_start + BATCH, header.tree_size))
        yield b"".join(leaf_line(seq, leaf) for seq, leaf in leaves)
