"""Test helpers of the verifier package: a tiny log (leaves, roots, consistency proofs written
from RFC 6962's recursive definitions) that signs checkpoints, independent of the service."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpa_audit_verify.checkpoint import TreeHead, sign_tree_head
from mpa_audit_verify.note import VerifierKey

ORIGIN = "audit.test.example/log"


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(mth(leaves[:k]), mth(leaves[k:]))


def consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    def subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [mth(d)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, d[:k], complete), mth(d[k:])]
        return [*subproof(m - k, d[k:], False), mth(d[:k])]

    return subproof(m, leaves, True)


@dataclass
class TinyLog:
    """A log of leaf hashes that signs checkpoints with its own key."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    origin: str = ORIGIN
    leaves: list[bytes] = field(default_factory=list)

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.origin, self.key.public_key())

    def grow(self, count: int, tag: bytes = b"") -> None:
        start = len(self.leaves)
        self.leaves += [_leaf(tag + str(i).encode()) for i in range(start, start + count)]

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        head = TreeHead(self.origin, size, mth(self.leaves[:size]), datetime.now(UTC))
        return sign_tree_head(head, self.key, self.origin)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        return consistency(old, self.leaves[:new]) if 0 < old < new else []
