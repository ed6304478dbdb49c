"""Proofs from a stored RFC 6962 tree: which stored nodes a proof needs, and how to fold them.

The audit log persists its tree as immutable complete-subtree nodes (`mpa_audit_verify.
compact_range`: ``(level, index) -> hash``, level 0 being the leaf hashes), inserted with the
leaves they complete, so a committed size always has all its nodes. Every hash a proof or an
older root needs is either one of those nodes or the root of a "ragged" right edge, folded
from O(log n) of them. Proof generation is therefore split into a pure plan (which node ids
are needed) and an assembly step over the fetched hashes, so a synchronous ``NodeReader`` or
an async database adapter can both serve it with a single batched read. Verification lives
in `mpa_audit_verify.proofs` (what an auditor runs offline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

from mpa_audit_verify.compact_range import CompactRange, NodeId, frontier_node_ids, range_node_ids
from mpa_audit_verify.hashing import fold_right_edge


class MissingNodeError(LookupError):
    """A node store did not return a node that a proof or root needs."""


class NodeReader(Protocol):
    """Batch read access to stored complete-subtree nodes.

    Implementations answer the whole batch at once (a database adapter: one query) and omit
    ids they do not hold; callers raise ``MissingNodeError`` for the gaps.
    """

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]: ...


class SubtreeRange(NamedTuple):
    """Leaves [begin, end) of one subtree of an RFC 6962 tree; one proof hash is its root.

    A range that reaches past the last complete node at its level (the tree's ragged right
    edge) is not stored as one node; its root is folded from ``node_ids`` instead.
    """

    begin: int
    end: int

    def node_ids(self) -> list[NodeId]:
        """The stored nodes whose hashes fold into this range's root, largest first."""
        return range_node_ids(self.begin, self.end)


def _audit_path(level: int, index: int, tree_size: int) -> list[SubtreeRange]:
    """Ranges whose roots prove node (level, index) in a tree of ``tree_size`` leaves.

    Bottom-up order as in RFC 6962 PATH. Viewed at ``level``, the tree has ``last + 1`` nodes;
    below the highest bit where ``index`` and ``last`` differ the node has a sibling on each
    side (the one holding ``last`` may be ragged); above it the node lies on the right edge
    and only left siblings exist.
    """
    last = (tree_size - 1) >> level
    diverging_levels = (index ^ last).bit_length()
    ranges: list[SubtreeRange] = []
    for step in range(diverging_levels):
        sibling = (index >> step) ^ 1
        shift = level + step
        begin = sibling << shift
        ranges.append(SubtreeRange(begin, min(begin + (1 << shift), tree_size)))
    for step in range(diverging_levels, index.bit_length()):
        if index >> step & 1:
            sibling = (index >> step) - 1
            shift = level + step
            ranges.append(SubtreeRange(sibling << shift, (sibling + 1) << shift))
    return ranges


class ProofPlan:
    """Which stored nodes a proof needs and how to fold them: the pure half of proof generation.

    Usage with any store (sync or async): fetch ``node_ids`` in one batch, then ``assemble``.
    """

    __slots__ = ("_node_ids", "_range_node_ids", "_ranges")

    def __init__(self, ranges: Iterable[SubtreeRange]) -> None:
        self._ranges = tuple(ranges)
        self._range_node_ids = tuple(subtree.node_ids() for subtree in self._ranges)
        self._node_ids = tuple(node_id for ids in self._range_node_ids for node_id in ids)

    @property
    def ranges(self) -> tuple[SubtreeRange, ...]:
        """The subtrees whose roots are the proof hashes, in proof order."""
        return self._ranges

    @property
    def node_ids(self) -> tuple[NodeId, ...]:
        """Every node to fetch, without duplicates (a proof's ranges are disjoint)."""
        return self._node_ids

    def assemble(self, hashes: Mapping[NodeId, bytes]) -> list[bytes]:
        """The proof hashes, in proof order, from the fetched node hashes."""
        try:
            return [
                hashes[ids[0]]
                if len(ids) == 1
                else fold_right_edge([hashes[node_id] for node_id in ids])
                for ids in self._range_node_ids
            ]
        except KeyError:
            missing = [node_id for node_id in self._node_ids if node_id not in hashes]
            raise MissingNodeError(f"node store lacks nodes {missing}") from None


def inclusion_proof_plan(index: int, tree_size: int) -> ProofPlan:
    """Plan of the RFC 6962 audit path for leaf ``index`` in a tree of ``tree_size`` leaves."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    return ProofPlan(_audit_path(0, index, tree_size))


def consistency_proof_plan(size1: int, size2: int) -> ProofPlan:
    """Plan of the RFC 6962 consistency proof from tree size ``size1`` to ``size2``.

    The proof is the inclusion path, within the larger tree, of the old tree's last perfect
    subtree, preceded by that subtree's own hash unless it is the whole old tree (the verifier
    already holds that one: it is the old root).
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"consistency proofs need 0 < size1 <= size2, got {size1}, {size2}")
    if size1 == size2:
        return ProofPlan([])
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    ranges: list[SubtreeRange] = []
    if index:
        ranges.append(SubtreeRange(index << level, size1))
    ranges.extend(_audit_path(level, index, size2))
    return ProofPlan(ranges)


def _fetch(reader: NodeReader, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
    return reader.get_nodes(ids) if ids else {}


def inclusion_proof(index: int, tree_size: int, reader: NodeReader) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of ``tree_size`` leaves, from stored nodes."""
    plan = inclusion_proof_plan(index, tree_size)
    return plan.assemble(_fetch(reader, plan.node_ids))


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """Consistency proof between tree sizes ``size1`` and ``size2``, from stored nodes."""
    plan = consistency_proof_plan(size1, size2)
    return plan.assemble(_fetch(reader, plan.node_ids))


def load_compact_range(tree_size: int, reader: NodeReader) -> CompactRange:
    """The right edge of the tree at ``tree_size``, from O(log n) stored nodes."""
    ids = frontier_node_ids(tree_size)
    hashes = _fetch(reader, ids)
    missing = [node_id for node_id in ids if node_id not in hashes]
    if missing:
        raise MissingNodeError(f"node store lacks nodes {missing}")
    return CompactRange.from_peaks(tree_size, [hashes[node_id] for node_id in ids])


def root_at(tree_size: int, reader: NodeReader) -> bytes:
    """Root hash of the tree as it was at ``tree_size`` leaves, from stored nodes."""
    return load_compact_range(tree_size, reader).root()
