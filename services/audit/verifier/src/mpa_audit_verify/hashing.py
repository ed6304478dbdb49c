"""RFC 6962 hashing: leaf and interior-node hashes, and the root of a stream of leaves.

Leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right) (the domain
separation of RFC 6962 section 2.1); the tree splits at the largest power of two below its
size, so a tree of n leaves is a sequence of perfect subtrees nested to the right.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the tree with no leaves: SHA-256 of the empty string (RFC 6962 section 2.1)."""


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf's data: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def require_hash(value: bytes, what: str) -> None:
    """Raise ValueError unless ``value`` is a hash of the right length."""
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def fold_right_edge(peaks: Sequence[bytes]) -> bytes:
    """Root over perfect subtrees given largest first: RFC 6962 nests them to the right."""
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """Root hash of the tree whose leaves have ``leaf_hashes``, consumed as a stream.

    Keeps only the stack of complete-subtree roots on the right edge (at most log2(n) hashes),
    so memory is O(log n) and each interior node is hashed exactly once.
    """
    sha256 = hashlib.sha256
    prefix = NODE_PREFIX
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
