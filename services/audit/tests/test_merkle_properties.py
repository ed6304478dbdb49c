"""Property-style tests: the stored-node tree against a naive recursive RFC 6962 reference.

Randomness is plain ``random`` with fixed seeds, so every run checks the same cases.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping, Sequence

import pytest
from audit_memory_tree import MemoryTree

from mpa_audit.domain.proof_plans import (
    MissingNodeError,
    consistency_proof,
    consistency_proof_plan,
    inclusion_proof,
    inclusion_proof_plan,
    load_compact_range,
    root_at,
)
from mpa_audit_verify.compact_range import CompactRange, NodeId, frontier_node_ids
from mpa_audit_verify.hashing import EMPTY_ROOT, leaf_hash, node_hash, root_hash
from mpa_audit_verify.proofs import (
    ProofError,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

SMALL_TREE_SIZE = 130
LARGE_TREE_SIZE = 5000
LARGE_SAMPLED_SIZES = [255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 4095, 4096, 4097, 5000]


def reference_leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def reference_node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class ReferenceTree:
    """RFC 6962 section 2.1 written as its recursive definitions over leaf ranges.

    MTH results are cached per range only to keep the test fast; the recursion is the RFC's.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = list(leaf_hashes)
        self._cache: dict[tuple[int, int], bytes] = {}

    def mth(self, begin: int, end: int) -> bytes:
        """MTH(D[begin:end])."""
        n = end - begin
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[begin]
        cached = self._cache.get((begin, end))
        if cached is None:
            k = largest_power_of_two_below(n)
            cached = reference_node_hash(self.mth(begin, begin + k), self.mth(begin + k, end))
            self._cache[(begin, end)] = cached
        return cached

    def path(self, m: int, begin: int, end: int) -> list[bytes]:
        """PATH(m, D[begin:end]), the audit path of leaf begin + m."""
        n = end - begin
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, begin, begin + k), self.mth(begin + k, end)]
        return [*self.path(m - k, begin + k, end), self.mth(begin, begin + k)]

    def subproof(self, m: int, begin: int, end: int, whole_old_tree: bool) -> list[bytes]:
        """SUBPROOF(m, D[begin:end], b)."""
        n = end - begin
        if m == n:
            return [] if whole_old_tree else [self.mth(begin, end)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, begin, begin + k, whole_old_tree), self.mth(begin + k, end)]
        return [*self.subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n])."""
        return self.subproof(m, 0, n, True)


def random_leaf_hashes(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [reference_leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(count)]


def build_memory_tree(leaf_hashes: Sequence[bytes]) -> MemoryTree:
    tree = MemoryTree()
    tree.extend(leaf_hashes)
    return tree


def flip_byte(value: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(value)
    changed[position] ^= mask
    return bytes(changed)


class CountingReader:
    """A NodeReader that records every batch it is asked for."""

    def __init__(self, inner: MemoryTree) -> None:
        self.inner = inner
        self.batches: list[list[NodeId]] = []

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.batches.append(list(ids))
        return self.inner.get_nodes(ids)


@pytest.fixture(scope="module")
def small_leaves() -> list[bytes]:
    return random_leaf_hashes(SMALL_TREE_SIZE, seed=6962)


@pytest.fixture(scope="module")
def small_reference(small_leaves: list[bytes]) -> ReferenceTree:
    return ReferenceTree(small_leaves)


@pytest.fixture(scope="module")
def small_tree(small_leaves: list[bytes]) -> MemoryTree:
    return build_memory_tree(small_leaves)


@pytest.fixture(scope="module")
def large_leaves() -> list[bytes]:
    return random_leaf_hashes(LARGE_TREE_SIZE, seed=9162)


@pytest.fixture(scope="module")
def large_reference(large_leaves: list[bytes]) -> ReferenceTree:
    return ReferenceTree(large_leaves)


@pytest.fixture(scope="module")
def large_tree(large_leaves: list[bytes]) -> MemoryTree:
    return build_memory_tree(large_leaves)


# --- hashing ---------------------------------------------------------------------------


def test_hashes_use_rfc6962_domain_separation() -> None:
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


# Roots of the RFC 6962 test tree (the leaves used by transparency-dev/merkle and the
# testdata vectors) after each append.
RFC6962_TEST_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
RFC6962_TEST_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_roots_of_the_rfc6962_test_tree() -> None:
    hashes = [leaf_hash(data) for data in RFC6962_TEST_LEAVES]
    tree = MemoryTree()
    for size, (leaf, expected) in enumerate(zip(hashes, RFC6962_TEST_ROOTS, strict=True), 1):
        tree.append(leaf)
        assert tree.root().hex() == expected
        assert root_hash(iter(hashes[:size])).hex() == expected
        assert root_at(size, tree).hex() == expected


def test_root_hash_matches_reference_on_streams(large_leaves: list[bytes]) -> None:
    sizes = [*range(SMALL_TREE_SIZE + 1), *LARGE_SAMPLED_SIZES]
    for size in sizes:
        reference = ReferenceTree(large_leaves[:size])

        def stream(count: int = size) -> Iterator[bytes]:
            yield from large_leaves[:count]

        assert root_hash(stream()) == reference.mth(0, size), size


def test_root_hash_rejects_a_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaf hash 1 must be 32 bytes"):
        root_hash([leaf_hash(b"a"), b"short"])


# --- appending and stored nodes ----------------------------------------------------------


def test_appended_nodes_are_exactly_the_reference_complete_subtrees(
    small_leaves: list[bytes], small_reference: ReferenceTree
) -> None:
    compact = CompactRange()
    seen: set[NodeId] = set()
    for size, leaf in enumerate(small_leaves, 1):
        completed = compact.append(leaf)
        assert compact.size == size
        # Newly complete: the nodes whose last leaf is the one just appended.
        expected_ids = [
            (level, (size >> level) - 1)
            for level in range(size.bit_length())
            if size % (1 << level) == 0
        ]
        assert [(node.level, node.index) for node in completed] == expected_ids
        for node in completed:
            begin = node.index << node.level
            assert node.hash == small_reference.mth(begin, begin + (1 << node.level))
            assert (node.level, node.index) not in seen
            seen.add((node.level, node.index))
        assert compact.root() == small_reference.mth(0, size)
    all_complete = {
        (level, index)
        for level in range(SMALL_TREE_SIZE.bit_length())
        for index in range(SMALL_TREE_SIZE >> level)
    }
    assert seen == all_complete


def test_memory_tree_stores_every_completed_node(
    small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    ids = [
        (level, index)
        for level in range(SMALL_TREE_SIZE.bit_length())
        for index in range(SMALL_TREE_SIZE >> level)
    ]
    stored = small_tree.get_nodes(ids)
    assert len(stored) == len(ids)
    for (level, index), value in stored.items():
        assert value == small_reference.mth(index << level, (index + 1) << level)
    # Nodes that are not complete yet are simply absent.
    assert small_tree.get_nodes([(0, SMALL_TREE_SIZE), (3, 16), (8, 0), (-1, 0)]) == {}


def test_root_at_every_historical_size(
    small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    for size in range(SMALL_TREE_SIZE + 1):
        reader = CountingReader(small_tree)
        assert root_at(size, reader) == small_reference.mth(0, size), size
        # O(log n): one batch of one node per set bit of the size.
        fetched = [node_id for batch in reader.batches for node_id in batch]
        assert len(reader.batches) == (1 if size else 0)
        assert len(fetched) == size.bit_count()


def test_compact_range_rebuilt_from_stored_nodes_continues_the_same_tree(
    small_leaves: list[bytes], small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    for size in range(SMALL_TREE_SIZE + 1):
        ids = frontier_node_ids(size)
        assert [level for level, _ in ids] == sorted(
            (level for level in range(size.bit_length()) if size >> level & 1), reverse=True
        )
        compact = load_compact_range(size, small_tree)
        assert compact.size == size
        assert compact.root() == small_reference.mth(0, size)
        for leaf in small_leaves[size:]:
            for node in compact.append(leaf):
                assert small_tree.get_nodes([(node.level, node.index)]) == {
                    (node.level, node.index): node.hash
                }
        assert compact.root() == small_tree.root()


def test_compact_range_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="has 2 peaks"):
        CompactRange.from_peaks(5, [leaf_hash(b"x")])
    with pytest.raises(ValueError, match="peak 0 must be 32 bytes"):
        CompactRange.from_peaks(1, [b"short"])
    with pytest.raises(ValueError, match="must not be negative"):
        CompactRange.from_peaks(-1, [])
    with pytest.raises(ValueError, match="leaf hash must be 32 bytes"):
        CompactRange().append(b"not a hash")
    assert CompactRange().root() == EMPTY_ROOT


# --- proofs from stored nodes against the reference ---------------------------------------


def test_inclusion_proofs_for_every_leaf_of_every_size_up_to_130(
    small_leaves: list[bytes], small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    checked = 0
    for size in range(1, SMALL_TREE_SIZE + 1):
        root = small_reference.mth(0, size)
        for index in range(size):
            proof = inclusion_proof(index, size, small_tree)
            assert proof == small_reference.path(index, 0, size), (index, size)
            verify_inclusion(index, size, small_leaves[index], proof, root)
            checked += 1
    assert checked == SMALL_TREE_SIZE * (SMALL_TREE_SIZE + 1) // 2


def test_consistency_proofs_for_every_pair_of_sizes_up_to_130(
    small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    checked = 0
    for size2 in range(1, SMALL_TREE_SIZE + 1):
        root2 = small_reference.mth(0, size2)
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, small_tree)
            assert proof == small_reference.proof(size1, size2), (size1, size2)
            verify_consistency(size1, size2, small_reference.mth(0, size1), root2, proof)
            checked += 1
    assert checked == SMALL_TREE_SIZE * (SMALL_TREE_SIZE + 1) // 2


def test_proofs_at_sampled_larger_sizes(
    large_leaves: list[bytes], large_tree: MemoryTree, large_reference: ReferenceTree
) -> None:
    rng = random.Random(2024)
    sizes = LARGE_SAMPLED_SIZES + [rng.randrange(131, LARGE_TREE_SIZE) for _ in range(12)]
    for size in sizes:
        root = large_reference.mth(0, size)
        assert root_at(size, large_tree) == root
        for index in {0, size - 1, size // 2, *(rng.randrange(size) for _ in range(25))}:
            proof = inclusion_proof(index, size, large_tree)
            assert proof == large_reference.path(index, 0, size), (index, size)
            verify_inclusion(index, size, large_leaves[index], proof, root)
        for size1 in {1, size - 1 or 1, size, *(rng.randrange(1, size + 1) for _ in range(25))}:
            proof = consistency_proof(size1, size, large_tree)
            assert proof == large_reference.proof(size1, size), (size1, size)
            verify_consistency(size1, size, large_reference.mth(0, size1), root, proof)


def test_proofs_read_a_logarithmic_number_of_nodes_in_one_batch(large_tree: MemoryTree) -> None:
    rng = random.Random(7)
    for _ in range(200):
        size = rng.randrange(2, LARGE_TREE_SIZE + 1)
        reader = CountingReader(large_tree)
        inclusion_proof(rng.randrange(size), size, reader)
        consistency_proof(rng.randrange(1, size), size, reader)
        assert len(reader.batches) == 2
        for batch in reader.batches:
            assert len(batch) == len(set(batch))
            assert len(batch) <= 2 * size.bit_length() + 1


def test_plans_let_any_store_serve_proofs(large_tree: MemoryTree) -> None:
    # An async adapter fetches plan.node_ids itself (one query) and then assembles.
    plan = inclusion_proof_plan(1234, 4321)
    fetched = large_tree.get_nodes(plan.node_ids)
    assert plan.assemble(fetched) == inclusion_proof(1234, 4321, large_tree)
    plan = consistency_proof_plan(1000, 4321)
    fetched = large_tree.get_nodes(plan.node_ids)
    assert plan.assemble(fetched) == consistency_proof(1000, 4321, large_tree)
    assert consistency_proof_plan(7, 7).node_ids == ()


def test_missing_nodes_are_reported_not_guessed(small_tree: MemoryTree) -> None:
    beyond = SMALL_TREE_SIZE + 5
    with pytest.raises(MissingNodeError):
        inclusion_proof(0, beyond, small_tree)
    with pytest.raises(MissingNodeError):
        consistency_proof(3, beyond, small_tree)
    with pytest.raises(MissingNodeError):
        root_at(beyond, small_tree)
    plan = inclusion_proof_plan(3, 10)
    partial = dict(small_tree.get_nodes(plan.node_ids))
    partial.pop(plan.node_ids[-1])
    with pytest.raises(MissingNodeError, match="lacks nodes"):
        plan.assemble(partial)


def test_proof_generation_rejects_impossible_requests() -> None:
    for index, size in [(0, 0), (5, 5), (-1, 3)]:
        with pytest.raises(ValueError, match="outside a tree"):
            inclusion_proof_plan(index, size)
    for size1, size2 in [(0, 0), (0, 3), (4, 3), (-1, 2)]:
        with pytest.raises(ValueError, match="0 < size1 <= size2"):
            consistency_proof_plan(size1, size2)
    with pytest.raises(ValueError, match="must not be negative"):
        frontier_node_ids(-1)


# --- tampering ----------------------------------------------------------------------------


def test_flipping_any_byte_of_any_inclusion_proof_hash_fails(
    small_leaves: list[bytes], small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    rng = random.Random(99)
    flips = 0
    for size in range(2, SMALL_TREE_SIZE + 1):
        index = rng.randrange(size)
        root = small_reference.mth(0, size)
        proof = inclusion_proof(index, size, small_tree)
        for element in range(len(proof)):
            for position in range(32):
                tampered = list(proof)
                tampered[element] = flip_byte(proof[element], position, rng.randrange(1, 256))
                with pytest.raises(ProofError, match="yields root"):
                    verify_inclusion(index, size, small_leaves[index], tampered, root)
                flips += 1
        for position in range(32):
            mask = rng.randrange(1, 256)
            with pytest.raises(ProofError):
                verify_inclusion(
                    index, size, flip_byte(small_leaves[index], position, mask), proof, root
                )
            with pytest.raises(ProofError):
                verify_inclusion(
                    index, size, small_leaves[index], proof, flip_byte(root, position, mask)
                )
    assert flips > 20_000


def test_flipping_any_byte_of_any_consistency_proof_hash_fails(
    small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    rng = random.Random(100)
    flips = 0
    for size2 in range(2, SMALL_TREE_SIZE + 1):
        size1 = rng.randrange(1, size2)
        root1, root2 = small_reference.mth(0, size1), small_reference.mth(0, size2)
        proof = consistency_proof(size1, size2, small_tree)
        for element in range(len(proof)):
            for position in range(32):
                tampered = list(proof)
                tampered[element] = flip_byte(proof[element], position, rng.randrange(1, 256))
                with pytest.raises(ProofError, match=r"yields (old|new) root"):
                    verify_consistency(size1, size2, root1, root2, tampered)
                flips += 1
        for position in range(32):
            mask = rng.randrange(1, 256)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, flip_byte(root1, position, mask), root2, proof)
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, root1, flip_byte(root2, position, mask), proof)
    assert flips > 20_000


def test_proofs_presented_for_another_position_fail(
    small_leaves: list[bytes], small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    for size in range(2, SMALL_TREE_SIZE + 1):
        root = small_reference.mth(0, size)
        for index in range(size):
            proof = inclusion_proof(index, size, small_tree)
            for other in {index - 1, index + 1} & set(range(size)):
                with pytest.raises(ProofError):
                    verify_inclusion(other, size, small_leaves[index], proof, root)


# --- verification edge cases ---------------------------------------------------------------


def test_inclusion_verification_edge_cases(
    small_leaves: list[bytes], small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    root = small_reference.mth(0, 8)
    leaf = small_leaves[5]
    proof = inclusion_proof(5, 8, small_tree)
    verify_inclusion(5, 8, leaf, proof, root)
    assert root_from_inclusion_proof(5, 8, leaf, proof) == root

    with pytest.raises(ProofError, match="not in a tree of 8 leaves"):
        verify_inclusion(8, 8, leaf, proof, root)
    with pytest.raises(ProofError, match="not in a tree of 0 leaves"):
        verify_inclusion(0, 0, leaf, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="must be >= 0"):
        verify_inclusion(-1, 8, leaf, proof, root)
    with pytest.raises(ProofError, match="needs 3 hashes, got 4"):
        verify_inclusion(5, 8, leaf, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="needs 3 hashes, got 2"):
        verify_inclusion(5, 8, leaf, proof[:2], root)
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        verify_inclusion(5, 8, leaf, [proof[0], proof[1][:31], proof[2]], root)
    with pytest.raises(ProofError, match="leaf hash is 0 bytes"):
        verify_inclusion(5, 8, b"", proof, root)
    with pytest.raises(ProofError, match="root must be 32 bytes, got 16"):
        verify_inclusion(5, 8, leaf, proof, root[:16])
    # A single-leaf tree: the leaf hash is the root and the proof is empty.
    verify_inclusion(0, 1, small_leaves[0], [], small_leaves[0])
    with pytest.raises(ProofError, match="needs 0 hashes, got 1"):
        verify_inclusion(0, 1, small_leaves[0], [small_leaves[0]], small_leaves[0])
    assert issubclass(ProofError, ValueError)


def test_consistency_verification_edge_cases(
    small_tree: MemoryTree, small_reference: ReferenceTree
) -> None:
    root3, root8 = small_reference.mth(0, 3), small_reference.mth(0, 8)
    proof = consistency_proof(3, 8, small_tree)
    verify_consistency(3, 8, root3, root8, proof)

    # Equal sizes: empty proof and identical roots, nothing else.
    verify_consistency(8, 8, root8, root8, [])
    with pytest.raises(ProofError, match="equal sizes need an empty proof"):
        verify_consistency(8, 8, root8, root8, [root8])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(8, 8, root8, root3, [])
    # The empty tree is a prefix of everything: a proof from it proves nothing.
    with pytest.raises(ProofError, match="size1 = 0"):
        verify_consistency(0, 8, EMPTY_ROOT, root8, [])
    with pytest.raises(ProofError, match="size1 = 0"):
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="larger than size2"):
        verify_consistency(8, 3, root8, root3, proof)
    with pytest.raises(ProofError, match="must be >= 0"):
        verify_consistency(-3, 8, root3, root8, proof)
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(3, 8, root3, root8, [])
    with pytest.raises(ProofError, match=f"needs {len(proof)} hashes, got {len(proof) + 1}"):
        verify_consistency(3, 8, root3, root8, [*proof, root8])
    with pytest.raises(ProofError, match=f"needs {len(proof)} hashes, got {len(proof) - 1}"):
        verify_consistency(3, 8, root3, root8, proof[1:])
    with pytest.raises(ProofError, match="proof hash 0 is 33 bytes"):
        verify_consistency(3, 8, root3, root8, [proof[0] + b"\x00", *proof[1:]])
    with pytest.raises(ProofError, match="roots must be 32 bytes"):
        verify_consistency(3, 8, root3[:8], root8, proof)
    with pytest.raises(ProofError, match="yields old root"):
        verify_consistency(3, 8, small_reference.mth(0, 4), root8, proof)
    with pytest.raises(ProofError, match="yields new root"):
        verify_consistency(3, 8, root3, small_reference.mth(0, 9), proof)
    # A proof for other sizes does not carry over.
    with pytest.raises(ProofError):
        verify_consistency(4, 8, small_reference.mth(0, 4), root8, proof)
