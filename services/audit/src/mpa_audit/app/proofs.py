"""Use cases: inclusion and consistency proofs from the stored nodes (one batched read each)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import LogStore
from mpa_audit.domain.proof_plans import consistency_proof_plan, inclusion_proof_plan
from mpa_audit_verify.compact_range import CompactRange, NodeId, frontier_node_ids
from mpa_common.problems import Problem


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


async def _size_or_current(store: LogStore, tree_size: int | None) -> int:
    current = await store.tree_size()
    if tree_size is None:
        return current
    if tree_size > current:
        raise Problem(
            422, "Tree size not reached", f"tree_size {tree_size} exceeds the log's {current}"
        )
    return tree_size


async def inclusion_proof(
    sessions: async_sessionmaker[AsyncSession], seq: int, tree_size: int | None
) -> InclusionProof:
    """Audit path of leaf ``seq`` in the tree of ``tree_size`` leaves (default: current)."""
    async with sessions() as session:
        store = LogStore(session)
        size = await _size_or_current(store, tree_size)
        if seq >= size:
            raise Problem(422, "Leaf not in tree", f"seq {seq} is not in a tree of {size} leaves")
        plan = inclusion_proof_plan(seq, size)
        hashes = await store.get_nodes([(0, seq), *plan.node_ids, *frontier_node_ids(size)])
    return InclusionProof(seq, size, hashes[(0, seq)], plan.assemble(hashes), _root(size, hashes))


async def consistency_proof(
    sessions: async_sessionmaker[AsyncSession], first: int, second: int | None
) -> ConsistencyProof:
    """Proof that the tree of ``second`` leaves (default: current) extends that of ``first``."""
    async with sessions() as session:
        store = LogStore(session)
        size = await _size_or_current(store, second)
        if not 0 < first <= size:
            raise Problem(
                422,
                "Invalid tree sizes",
                f"a consistency proof needs 0 < first <= second, got {first} and {size}",
            )
        plan = consistency_proof_plan(first, size)
        hashes = await store.get_nodes(
            [*plan.node_ids, *frontier_node_ids(first), *frontier_node_ids(size)]
        )
    return ConsistencyProof(
        first, size, _root(first, hashes), _root(size, hashes), plan.assemble(hashes)
    )
