"""Use cases: inclusion and consistency proofs from the stored nodes (one batched read each)."""

from __future__ import annotations

from dataclasses import dataclass

from mpa_audit.app.ports import LogRepository, UnitOfWorkFactory
from mpa_audit.domain.errors import InvalidTreeSizes, LeafNotInTree, TreeSizeNotReached
from mpa_audit.domain.proof_plans import consistency_proof_plan, inclusion_proof_plan
from mpa_audit_verify.compact_range import CompactRange, NodeId, frontier_node_ids


@dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]
    root_hash: bytes


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    first_root_hash: bytes
    second_root_hash: bytes
    proof: list[bytes]


def _root(tree_size: int, hashes: dict[NodeId, bytes]) -> bytes:
    ids = frontier_node_ids(tree_size)
    return CompactRange.from_peaks(tree_size, [hashes[node_id] for node_id in ids]).root()


async def size_or_current(log_store: LogRepository, tree_size: int | None) -> int:
    """``tree_size``, or the log's current size; TreeSizeNotReached beyond it."""
    current = await log_store.tree_size()
    if tree_size is None:
        return current
    if tree_size > current:
        raise TreeSizeNotReached(tree_size, current)
    return tree_size


async def consistency_between(log_store: LogRepository, first: int, second: int) -> list[bytes]:
    """The RFC 9162 consistency proof from size ``first`` to ``second`` (both reached)."""
    plan = consistency_proof_plan(first, second)
    return plan.assemble(await log_store.get_nodes(plan.node_ids))


async def inclusion_proof(
    uow_factory: UnitOfWorkFactory, seq: int, tree_size: int | None
) -> InclusionProof:
    """Audit path of leaf ``seq`` in the tree of ``tree_size`` leaves (default: current)."""
    async with uow_factory() as uow:
        size = await size_or_current(uow.log, tree_size)
        if seq >= size:
            raise LeafNotInTree(seq, size)
        plan = inclusion_proof_plan(seq, size)
        hashes = await uow.log.get_nodes([(0, seq), *plan.node_ids, *frontier_node_ids(size)])
    return InclusionProof(seq, size, hashes[(0, seq)], plan.assemble(hashes), _root(size, hashes))


async def consistency_proof(
    uow_factory: UnitOfWorkFactory, first: int, second: int | None
) -> ConsistencyProof:
    """Proof that the tree of ``second`` leaves (default: current) extends that of ``first``."""
    async with uow_factory() as uow:
        size = await size_or_current(uow.log, second)
        if not 0 < first <= size:
            raise InvalidTreeSizes(first, size)
        plan = consistency_proof_plan(first, size)
        hashes = await uow.log.get_nodes(
            [*plan.node_ids, *frontier_node_ids(first), *frontier_node_ids(size)]
        )
    return ConsistencyProof(
        first, size, _root(first, hashes), _root(size, hashes), plan.assemble(hashes)
    )
