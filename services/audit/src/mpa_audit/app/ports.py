"""What the audit's use cases need from the outside, as protocols: the log's repository and
unit of work, the tree-head signer, witnesses, and Kafka's end offsets.

`adapters` implements them on PostgreSQL, Ed25519 keys, HTTP and Kafka; the unit tests on
in-memory fakes (`services/audit/tests/audit_fakes.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from mpa_audit.domain.accounting import (
    AppendState,
    BatchWrite,
    OriginKey,
    PartitionAccount,
    PartitionKey,
    StoredRecord,
)
from mpa_audit_verify.compact_range import CompactRange, NodeId
from mpa_audit_verify.note import VerifierKey


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One leaf of the log as stored."""

    seq: int
    leaf: bytes
    leaf_hash: bytes
    logged_at: datetime


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A leaf with the columns the log indexes it by (what the integrity check compares)."""

    seq: int
    leaf: bytes
    leaf_hash: bytes
    event_id: UUID
    event_type: str
    event_time: datetime
    correlation_id: UUID
    case_id: UUID | None
    actor_id: str | None
    source_topic: str
    source_partition: int
    source_offset: int


@dataclass(frozen=True, slots=True)
class StoredTreeHead:
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    checkpoint: str


@dataclass(frozen=True, slots=True)
class StoredCosignature:
    """A witness's cosignature line on the tree head of ``tree_size``."""

    tree_size: int
    witness: str
    line: str
    cosigned_at: datetime


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Conditions on logged events; None means no condition."""

    correlation_id: UUID | None = None
    case_id: UUID | None = None
    event_type: str | None = None
    actor_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead-lettered offset whose event is not in the log."""

    offset: int
    event_id: UUID | None


@dataclass(frozen=True, slots=True)
class IntegrityCheck:
    """A completed integrity check: what it covered and what it found."""

    scope: str
    checked_at: datetime
    from_size: int
    tree_size: int
    intact: bool
    findings: tuple[tuple[str, str], ...] = ()
    root_hash: bytes | None = None
    peaks: tuple[bytes, ...] = field(default=())
    """The verified right edge at ``tree_size`` (an intact check's): where the next
    incremental check starts from."""


class LogRepository(Protocol):
    """The Merkle log, its accounts and its tree heads, within one transaction."""

    # --- appending (under the append lock) ----------------------------------------------

    async def lock_appends(self) -> None:
        """Wait for, then hold until the transaction ends, the right to append."""

    async def append_state(
        self, event_ids: Sequence[UUID], partitions: Sequence[PartitionKey]
    ) -> AppendState:
        """Tree size and right edge, which of ``event_ids`` are logged, and the current
        account of each partition (``records`` left empty: see ``records_at``)."""

    async def records_at(
        self, ranges: Sequence[tuple[str, int, int, int, int]]
    ) -> Mapping[OriginKey, StoredRecord]:
        """What is stored at the offsets of (topic, partition, epoch, first, last) ranges."""

    async def write_batch(self, write: BatchWrite) -> None:
        """Insert the batch's leaves, nodes, skipped offsets and gaps; save its accounts."""

    # --- reading the tree -----------------------------------------------------------

    async def snapshot(self) -> None:
        """Let every later read of this transaction see one snapshot (call it first)."""

    async def tree_size(self) -> int:
        """Number of committed leaves (seqs are contiguous, so the last seq + 1)."""

    async def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Stored hashes of ``ids`` (level 0: leaf hashes); ids not stored are left out."""

    async def compact_range(self, tree_size: int) -> CompactRange:
        """The right edge of the tree at ``tree_size``; MissingNodeError if nodes lack."""

    async def entry(self, seq: int) -> StoredEntry | None: ...

    async def find_entries(
        self, conditions: EventFilter, *, after: int | None, limit: int
    ) -> list[StoredEntry]:
        """Entries matching ``conditions`` in log order, after seq ``after``."""

    async def case_timeline(self, case_id: UUID, *, limit: int) -> list[StoredEntry]:
        """Every event about the case and of its stories, by event time then seq."""

    async def leaves(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(seq, leaf) for seq in [start, end), in order."""

    def rows(self, start: int, end: int, batch: int) -> AsyncIterator[list[StoredRow]]:
        """The stored rows of seqs [start, end), in order, ``batch`` at a time."""

    async def nodes_completed(self, start: int, end: int) -> dict[NodeId, bytes]:
        """Stored interior nodes completed by leaves [start, end): those whose subtree ends
        in (start, end]."""

    # --- signed tree heads and their cosignatures -------------------------------------

    async def tree_head(self, tree_size: int) -> StoredTreeHead | None: ...

    async def latest_tree_heads(self, limit: int) -> list[StoredTreeHead]: ...

    async def tree_heads_between(self, low: int, high: int) -> list[StoredTreeHead]:
        """Tree heads of sizes in (low, high], smallest first."""

    async def add_tree_head(self, head: StoredTreeHead) -> StoredTreeHead:
        """Store a signed tree head; if one of that size exists already, that one is kept
        and returned (two replicas may sign the same size)."""

    async def cosignatures(self, tree_size: int) -> list[StoredCosignature]: ...

    async def add_cosignature(self, cosignature: StoredCosignature) -> None:
        """Store a verified cosignature (the same line again is ignored)."""

    async def latest_cosigned_size(self, witness: str) -> int | None: ...

    # --- coverage ---------------------------------------------------------------------

    async def accounts(self, topics: Sequence[str]) -> list[PartitionAccount]:
        """Every account (each epoch) of partitions of ``topics``."""

    async def open_gaps(self, account: PartitionAccount, limit: int) -> list[tuple[int, int]]:
        """Ranges [first, last] of the account's offsets below next_offset never seen."""

    async def missing_dead_letters(
        self, account: PartitionAccount, limit: int
    ) -> tuple[int, list[DeadLetter]]:
        """How many of the account's dead-lettered offsets have no event in the log (neither
        by event id nor as a leaf at the same offset), and the first ``limit`` of them."""

    # --- integrity --------------------------------------------------------------------

    async def latest_check(
        self, *, scope: str | None = None, intact: bool | None = None
    ) -> IntegrityCheck | None:
        """The most recent integrity check (of ``scope``, and intact or not, if given)."""

    async def add_check(self, check: IntegrityCheck) -> None: ...

    async def full_scan(self) -> FullScan:
        """Every stored hash recomputed (the full integrity check's database work)."""


@dataclass(frozen=True, slots=True)
class FullScan:
    """What a full recomputation of the stored tree found."""

    leaf_count: int
    last_seq: int | None
    leaves_with_wrong_hash: list[int]
    nodes_with_wrong_hash: list[tuple[int, int]]
    node_counts: dict[int, int]
    account_mismatches: list[str]


class AuditUnitOfWork(Protocol):
    """One transaction over the log: ``async with uow: ...; await uow.commit()``."""

    @property
    def log(self) -> LogRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], AuditUnitOfWork]


class Signer(Protocol):
    """Signs this log's tree heads."""

    @property
    def origin(self) -> str: ...

    @property
    def public(self) -> VerifierKey: ...

    def sign(self, tree_size: int, root_hash: bytes, issued_at: datetime) -> str:
        """The signed checkpoint note of the tree head."""


@dataclass(frozen=True, slots=True)
class WitnessAnswer:
    """What a witness said to an add-checkpoint request."""

    status: int
    cosignatures: str = ""
    """Signature lines (status 200)."""
    latest_size: int | None = None
    """The size it last cosigned (status 409)."""
    reason: str = ""


class Witness(Protocol):
    """A C2SP tlog-witness the log asks for cosignatures."""

    @property
    def key(self) -> VerifierKey:
        """Its cosigner key (name and Ed25519 key, type 0x04), to verify what it returns."""

    async def add_checkpoint(
        self, old_size: int, proof: Sequence[bytes], checkpoint: str
    ) -> WitnessAnswer:
        """Raises DependencyUnavailable when the witness cannot be reached."""

    async def latest_checkpoint(self, origin: str) -> str | None:
        """The latest checkpoint it cosigned for ``origin`` (with its cosignature), or None;
        raises DependencyUnavailable when it cannot be reached."""


EndOffsets = Callable[[Sequence[str]], Awaitable[dict[tuple[str, int], int]]]
"""Asks the broker for the end offset of every partition of the given topics."""
