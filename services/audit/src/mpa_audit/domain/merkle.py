"""RFC 6962 / RFC 9162 Merkle tree: hashing, stored-node model, proofs and their verification.

Pure code: no database, no network, no clock. The audit service persists the tree as
immutable *complete-subtree nodes*. The node ``(level, index)`` is the root of the perfect
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf
hashes themselves. Such a node exists once the log has ``(index + 1) * 2**level`` leaves and
never changes afterwards, so a store only ever INSERTs the nodes that ``CompactRange.append``
reports, and never updates a row.

A database adapter persists one row per node, ``(level, index) -> 32-byte hash`` with that
pair as primary key (about 2n rows for n leaves), inserted in the same transaction as the
leaf it belongs to and the new tree size, so a committed size always has all its nodes. To
append after a restart it rebuilds the right edge with ``frontier_node_ids(size)`` /
``CompactRange.from_peaks``; appends must be serialised (one writer per tree).

Every hash a proof or an older root needs is either one of those nodes or the root of a
"ragged" right edge, which is folded from O(log n) of them. Proof generation is therefore
split into a pure plan (which node ids are needed) and an assembly step over the fetched
hashes, so a synchronous ``NodeReader`` or an async database adapter can both serve it with a
single batched read.

Verification (``verify_inclusion``, ``verify_consistency``) is independent of storage and
follows the algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the tree with no leaves: SHA-256 of the empty string (RFC 6962 section 2.1)."""

NodeId = tuple[int, int]
"""``(level, index)`` of a complete-subtree node."""


class ProofError(ValueError):
    """A proof failed verification or was malformed; the message says why."""


class MissingNodeError(LookupError):
    """A node store did not return a node that a proof or root needs."""


@dataclass(frozen=True, slots=True)
class Node:
    """A complete-subtree node, immutable once its subtree is full: what a store inserts."""

    level: int
    index: int
    hash: bytes


class NodeReader(Protocol):
    """Batch read access to stored complete-subtree nodes.

    Implementations answer the whole batch at once (a database adapter: one query) and omit
    ids they do not hold; callers raise ``MissingNodeError`` for the gaps.
    """

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]: ...


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf's data: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(size: int) -> int:
    """Largest power of two strictly less than ``size`` (size >= 2): where RFC 6962 splits."""
    return 1 << ((size - 1).bit_length() - 1)


def _require_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """Root hash of the tree whose leaves have ``leaf_hashes``, consumed as a stream.

    Keeps only the stack of complete-subtree roots on the right edge (at most log2(n) hashes),
    so memory is O(log n) and each interior node is hashed exactly once.
    """
    sha256 = hashlib.sha256
    prefix = _NODE_PREFIX
    stack: list[bytes] = []
    pop = stack.pop
    push = stack.append
    for position, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} must be {HASH_SIZE} bytes, got {len(leaf)}")
        # Each trailing 1 bit of the leaves before this one is a perfect subtree that this
        # leaf completes into one of twice the size.
        current = leaf
        pending = position
        while pending & 1:
            current = sha256(prefix + pop() + current).digest()
            pending >>= 1
        push(current)
    if not stack:
        return EMPTY_ROOT
    root = pop()
    while stack:
        root = sha256(prefix + pop() + root).digest()
    return root


def _fold_right_edge(peaks: Sequence[bytes]) -> bytes:
    """Root over perfect subtrees given largest first: RFC 6962 nests them to the right."""
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def frontier_node_ids(tree_size: int) -> list[NodeId]:
    """Ids of the perfect subtrees that make up a tree of ``tree_size`` leaves, largest first.

    These are the nodes a ``CompactRange`` (and so the root) of that size is rebuilt from:
    one per set bit of ``tree_size``.
    """
    if tree_size < 0:
        raise ValueError(f"tree size must not be negative, got {tree_size}")
    return _range_node_ids(0, tree_size)


def _range_node_ids(begin: int, end: int) -> list[NodeId]:
    """Complete nodes covering leaves [begin, end), largest first.

    ``begin`` is aligned to a power of two at least ``end - begin``, which is true of every
    subtree of an RFC 6962 tree, so each piece is itself aligned.
    """
    ids: list[NodeId] = []
    position = begin
    remaining = end - begin
    while remaining:
        level = remaining.bit_length() - 1
        ids.append((level, position >> level))
        position += 1 << level
        remaining -= 1 << level
    return ids


class SubtreeRange(NamedTuple):
    """Leaves [begin, end) of one subtree of an RFC 6962 tree; one proof hash is its root.

    A range that reaches past the last complete node at its level (the tree's ragged right
    edge) is not stored as one node; its root is folded from ``node_ids`` instead.
    """

    begin: int
    end: int

    def node_ids(self) -> list[NodeId]:
        """The stored nodes whose hashes fold into this range's root, largest first."""
        return _range_node_ids(self.begin, self.end)


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
                else _fold_right_edge([hashes[node_id] for node_id in ids])
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


class CompactRange:
    """The right edge of a tree: the roots of its perfect subtrees, largest first.

    Enough to append further leaves and compute the root; ``append`` reports every node it
    completes, which is exactly what a store must insert.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @classmethod
    def from_peaks(cls, tree_size: int, peaks: Sequence[bytes]) -> CompactRange:
        """Rebuild from the hashes of ``frontier_node_ids(tree_size)``, in that order."""
        if tree_size < 0:
            raise ValueError(f"tree size must not be negative, got {tree_size}")
        expected = tree_size.bit_count()
        if len(peaks) != expected:
            raise ValueError(f"a tree of {tree_size} leaves has {expected} peaks, got {len(peaks)}")
        for position, peak in enumerate(peaks):
            _require_hash(peak, f"peak {position}")
        compact = cls()
        compact._size = tree_size
        compact._peaks = list(peaks)
        return compact

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Hashes of the perfect subtrees, largest first (ids: ``frontier_node_ids(size)``)."""
        return tuple(self._peaks)

    def append(self, leaf: bytes) -> list[Node]:
        """Add a leaf hash; returns the nodes it completes, the leaf itself first."""
        _require_hash(leaf, "leaf hash")
        peaks = self._peaks
        index = self._size
        current = leaf
        completed = [Node(0, index, current)]
        level = 0
        # Mirrors binary increment: each trailing 1 bit of the old size is a peak of the same
        # size as the new one, and the two merge.
        while index & 1:
            current = node_hash(peaks.pop(), current)
            index >>= 1
            level += 1
            completed.append(Node(level, index, current))
        peaks.append(current)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes, reporting no nodes: the fast path for verifiers.

        Same effect as calling ``append`` for each, about three times faster. If ``leaves``
        raises midway, the range holds exactly the leaves consumed before the error.
        """
        sha256 = hashlib.sha256
        prefix = _NODE_PREFIX
        peaks = self._peaks
        pop = peaks.pop
        push = peaks.append
        size = self._size
        try:
            for leaf in leaves:
                if len(leaf) != HASH_SIZE:
                    raise ValueError(f"leaf hash {size} must be {HASH_SIZE} bytes, got {len(leaf)}")
                current = leaf
                pending = size
                while pending & 1:
                    current = sha256(prefix + pop() + current).digest()
                    pending >>= 1
                push(current)
                size += 1
        finally:
            self._size = size

    def root(self) -> bytes:
        """Root hash of the tree of ``size`` leaves."""
        return _fold_right_edge(self._peaks) if self._peaks else EMPTY_ROOT


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


class MemoryTree:
    """An append-only tree held in memory, one list of hashes per level: for tests and benches."""

    __slots__ = ("_frontier", "_levels")

    def __init__(self) -> None:
        self._frontier = CompactRange()
        self._levels: list[list[bytes]] = []

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._frontier.size

    def root(self) -> bytes:
        """Root hash at the current size."""
        return self._frontier.root()

    def append(self, leaf: bytes) -> list[Node]:
        """Append a leaf hash and store the nodes it completes; returns those nodes."""
        completed = self._frontier.append(leaf)
        levels = self._levels
        for node in completed:
            if node.level == len(levels):
                levels.append([])
            levels[node.level].append(node.hash)
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Stored hashes for ``ids``; ids not stored yet are left out."""
        levels = self._levels
        found: dict[NodeId, bytes] = {}
        for level, index in ids:
            if 0 <= level < len(levels) and 0 <= index < len(levels[level]):
                found[(level, index)] = levels[level][index]
        return found


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(element)} bytes, expected {HASH_SIZE}")


def _expected_path_length(index: int, tree_size: int) -> int:
    # Same count as _audit_path at level 0: siblings below the divergence from the last
    # leaf, plus one left sibling per set bit of the index above it.
    diverging_levels = (index ^ (tree_size - 1)).bit_length()
    return diverging_levels + (index >> diverging_levels).bit_count()


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Root that ``proof`` yields for the leaf; RFC 9162 section 2.1.3.2 steps 1-4.

    Raises ``ProofError`` if the index lies outside the tree, a hash has the wrong length or
    the proof has the wrong number of hashes for this index and size.
    """
    if leaf_index < 0 or tree_size < 0:
        raise ProofError(f"leaf index {leaf_index} and tree size {tree_size} must be >= 0")
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is not in a tree of {tree_size} leaves")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
    _check_proof_hashes(proof)
    expected = _expected_path_length(leaf_index, tree_size)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for leaf {leaf_index} in a tree of {tree_size} leaves needs "
            f"{expected} hashes, got {len(proof)}"
        )

    fn = leaf_index
    sn = tree_size - 1
    result = leaf_hash
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            result = node_hash(element, result)
            if not fn & 1:
                # A right-edge node with no right sibling: climb until it becomes a right child.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return result


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree with ``root``.

    Returns only on success; raises ``ProofError`` with the reason otherwise.
    """
    computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if len(root) != HASH_SIZE:
        raise ProofError(f"root must be {HASH_SIZE} bytes, got {len(root)}")
    if computed != root:
        raise ProofError(f"inclusion proof yields root {computed.hex()}, expected {root.hex()}")


def _expected_consistency_length(size1: int, size2: int) -> int:
    level = (size1 & -size1).bit_length() - 1
    index = (size1 >> level) - 1
    last = (size2 - 1) >> level
    diverging_levels = (index ^ last).bit_length()
    own_hash = 1 if index else 0
    return own_hash + diverging_levels + (index >> diverging_levels).bit_count()


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1`` with ``root1``.

    RFC 9162 section 2.1.4.2, with its preconditions made explicit: sizes must satisfy
    0 < size1 <= size2 (a proof from the empty tree proves nothing, so it is refused rather
    than reported as success); equal sizes need an empty proof and byte-identical roots (whose
    length is then not checked: nothing is hashed). Returns only on success; raises
    ``ProofError`` with the reason otherwise.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes {size1} and {size2} must be >= 0")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree (size1 = 0) proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError(f"equal sizes need an empty proof, got {len(proof)} hashes")
        if root1 != root2:
            raise ProofError(f"trees of equal size {size1} have different roots")
        return
    if not proof:
        raise ProofError(f"consistency proof from {size1} to {size2} is empty")
    _check_proof_hashes(proof)
    if len(root1) != HASH_SIZE or len(root2) != HASH_SIZE:
        raise ProofError(f"roots must be {HASH_SIZE} bytes, got {len(root1)} and {len(root2)}")
    expected = _expected_consistency_length(size1, size2)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from {size1} to {size2} needs {expected} hashes, got {len(proof)}"
        )

    path = list(proof)
    # Step 2: a power-of-two old tree is itself the starting subtree, so its root is implied.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn = size1 - 1
    sn = size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_result = second_result = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            first_result = node_hash(element, first_result)
            second_result = node_hash(element, second_result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second_result = node_hash(second_result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if first_result != root1:
        raise ProofError(
            f"consistency proof yields old root {first_result.hex()}, expected {root1.hex()}"
        )
    if second_result != root2:
        raise ProofError(
            f"consistency proof yields new root {second_result.hex()}, expected {root2.hex()}"
        )
