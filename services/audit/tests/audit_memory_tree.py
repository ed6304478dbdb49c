"""An append-only RFC 6962 tree held in memory: the stand-in node store of the unit tests and
the Merkle benchmark (the service stores its nodes in PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mpa_audit_verify.compact_range import CompactRange, Node, NodeId


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
