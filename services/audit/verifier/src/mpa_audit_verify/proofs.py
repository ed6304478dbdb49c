"""Verification of RFC 9162 inclusion and consistency proofs (sections 2.1.3.2 and 2.1.4.2).

Independent of any store: a verifier holds a root (from a signed checkpoint) and a proof,
and learns whether the leaf is in the tree, or whether one tree extends another.
"""

from __future__ import annotations

from collections.abc import Sequence

from mpa_audit_verify.hashing import HASH_SIZE, node_hash


class ProofError(ValueError):
    """A proof failed verification or was malformed; the message says why."""


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
