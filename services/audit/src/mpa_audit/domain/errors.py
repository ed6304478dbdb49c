"""What the audit's use cases refuse, as domain errors (the api maps them to problem+json).

Messages name sizes, seqs and parameters, never logged content.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of the audit's domain errors."""


class TreeSizeNotReached(AuditError):
    def __init__(self, tree_size: int, current: int) -> None:
        super().__init__(f"tree_size {tree_size} exceeds the log's {current}")
        self.tree_size = tree_size
        self.current = current


class LeafNotInTree(AuditError):
    def __init__(self, seq: int, tree_size: int) -> None:
        super().__init__(f"seq {seq} is not in a tree of {tree_size} leaves")


class InvalidTreeSizes(AuditError):
    def __init__(self, first: int, second: int) -> None:
        super().__init__(f"a consistency proof needs 0 < first <= second, got {first} and {second}")


class InvalidRange(AuditError):
    def __init__(self, start: int, tree_size: int) -> None:
        super().__init__(f"start {start} is past tree size {tree_size}")


class InvalidPreviousTreeSize(AuditError):
    def __init__(self, previous: int, tree_size: int) -> None:
        super().__init__(f"previous_tree_size must be in 1..{tree_size}, got {previous}")


class InvalidCursor(AuditError):
    def __init__(self) -> None:
        super().__init__("cursor must be a value returned as next_cursor")


class EventNotFound(AuditError):
    def __init__(self, seq: int) -> None:
        super().__init__(f"no event with seq {seq} in the log")
