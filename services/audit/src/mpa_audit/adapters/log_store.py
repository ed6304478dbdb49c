"""Repository of the Merkle log: leaves, complete-subtree nodes, signed tree heads, offsets.

Level-0 nodes are the leaves' hashes in `log_entries`; higher levels live in `merkle_nodes`.
Rows are only ever inserted: a committed tree size always has all of its nodes, because a
leaf, the nodes it completes and so the new size are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Row, func, literal, or_, select, text, tuple_, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.adapters.tables import log_entries, merkle_nodes, skipped_offsets, tree_heads
from mpa_audit.domain.leaf import LeafSummary, RecordOrigin
from mpa_audit.domain.proof_plans import MissingNodeError
from mpa_audit_verify.compact_range import CompactRange, Node, NodeId, frontier_node_ids

DUPLICATE = "duplicate"
"""Skipped-offset reason: the record holds an event that is in the log already."""
DEAD_LETTERED = "dead_lettered"
"""Skipped-offset reason: the record could not be logged and went to the dead-letter topic."""
REPLAY_FOR_OTHERS = "replay_for_others"
"""Skipped-offset reason: a dead letter replayed for another consumer group."""

# Serialises appends across every replica of the service writing to this schema; a
# transaction-level lock, released by the commit that makes the new leaf visible.
_APPEND_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('mpa-audit:append:' || current_schema()))"
)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One leaf of the log as stored."""

    seq: int
    leaf: bytes
    leaf_hash: bytes
    logged_at: datetime


@dataclass(frozen=True, slots=True)
class StoredTreeHead:
    tree_size: int
    root_hash: bytes
    issued_at: datetime
    checkpoint: str


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
class PartitionAccount:
    """What the log holds of one source partition: distinct offsets accounted for."""

    topic: str
    partition: int
    logged: int
    duplicates: int
    dead_lettered: int
    accounted: int
    last_offset: int


_ENTRY_COLUMNS = (
    log_entries.c.seq,
    log_entries.c.leaf,
    log_entries.c.leaf_hash,
    log_entries.c.logged_at,
)


def _entry(row: Row[int, bytes, bytes, datetime]) -> StoredEntry:
    return StoredEntry(row.seq, row.leaf, row.leaf_hash, row.logged_at)


class LogStore:
    """Reads and appends of the log within the caller's session (its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- appending -------------------------------------------------------------------

    async def lock_appends(self) -> None:
        """Wait for, then hold until commit, the right to append."""
        await self._session.execute(_APPEND_LOCK)

    async def append_state(self, event_id: UUID) -> tuple[int, bool]:
        """The tree size, and whether ``event_id`` is logged already: one round trip.
        Call it after ``lock_appends`` (a statement's snapshot predates its own locks)."""
        last = select(func.max(log_entries.c.seq)).scalar_subquery()
        logged = select(literal(1)).where(log_entries.c.event_id == event_id).exists()
        row = (
            await self._session.execute(select(last.label("last"), logged.label("logged")))
        ).one()
        return (0 if row.last is None else int(row.last) + 1), bool(row.logged)

    async def tree_size(self) -> int:
        """Number of committed leaves (seqs are contiguous, so the last seq + 1)."""
        last = await self._session.scalar(select(func.max(log_entries.c.seq)))
        return 0 if last is None else int(last) + 1

    async def compact_range(self, tree_size: int) -> CompactRange:
        """The right edge of the tree at ``tree_size``, from its O(log n) stored nodes."""
        ids = frontier_node_ids(tree_size)
        hashes = await self.get_nodes(ids)
        missing = [node_id for node_id in ids if node_id not in hashes]
        if missing:
            raise MissingNodeError(f"node store lacks nodes {missing}")
        return CompactRange.from_peaks(tree_size, [hashes[node_id] for node_id in ids])

    async def insert_leaf(
        self, seq: int, leaf: bytes, leaf_hash: bytes, summary: LeafSummary
    ) -> None:
        await self._session.execute(
            log_entries.insert().values(
                seq=seq,
                leaf=leaf,
                leaf_hash=leaf_hash,
                event_id=summary.event_id,
                event_type=summary.event_type,
                event_time=summary.event_time,
                correlation_id=summary.correlation_id,
                case_id=summary.case_id,
                actor_id=summary.actor_id,
                source_topic=summary.origin.topic,
                source_partition=summary.origin.partition,
                source_offset=summary.origin.offset,
            )
        )

    async def insert_nodes(self, nodes: Sequence[Node]) -> None:
        """Store interior nodes (level >= 1); leaves are stored by ``insert_leaf``."""
        rows = [
            {"level": node.level, "node_index": node.index, "hash": node.hash}
            for node in nodes
            if node.level > 0
        ]
        if rows:
            await self._session.execute(merkle_nodes.insert(), rows)

    # --- nodes and leaves --------------------------------------------------------------

    async def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Stored hashes of ``ids`` in one query; ids not stored are left out."""
        leaves = [index for level, index in ids if level == 0]
        interior = [(level, index) for level, index in ids if level > 0]
        parts = []
        if leaves:
            parts.append(
                select(
                    literal(0).label("level"),
                    log_entries.c.seq.label("node_index"),
                    log_entries.c.leaf_hash.label("hash"),
                ).where(log_entries.c.seq.in_(leaves))
            )
        if interior:
            parts.append(
                select(merkle_nodes.c.level, merkle_nodes.c.node_index, merkle_nodes.c.hash).where(
                    tuple_(merkle_nodes.c.level, merkle_nodes.c.node_index).in_(interior)
                )
            )
        if not parts:
            return {}
        statement = parts[0] if len(parts) == 1 else union(*parts)
        rows = await self._session.execute(statement)
        return {(int(row.level), int(row.node_index)): bytes(row.hash) for row in rows}

    async def entry(self, seq: int) -> StoredEntry | None:
        row = (
            await self._session.execute(select(*_ENTRY_COLUMNS).where(log_entries.c.seq == seq))
        ).first()
        return _entry(row) if row else None

    async def find_entries(
        self, conditions: EventFilter, *, after: int | None, limit: int
    ) -> list[StoredEntry]:
        """Entries matching ``conditions`` in log order, after seq ``after``."""
        statement = select(*_ENTRY_COLUMNS).order_by(log_entries.c.seq).limit(limit)
        clauses = []
        if after is not None:
            clauses.append(log_entries.c.seq > after)
        if conditions.correlation_id is not None:
            clauses.append(log_entries.c.correlation_id == conditions.correlation_id)
        if conditions.case_id is not None:
            clauses.append(log_entries.c.case_id == conditions.case_id)
        if conditions.event_type is not None:
            clauses.append(log_entries.c.event_type == conditions.event_type)
        if conditions.actor_id is not None:
            clauses.append(log_entries.c.actor_id == conditions.actor_id)
        if conditions.since is not None:
            clauses.append(log_entries.c.event_time >= conditions.since)
        if conditions.until is not None:
            clauses.append(log_entries.c.event_time < conditions.until)
        rows = await self._session.execute(statement.where(*clauses))
        return [_entry(row) for row in rows]

    async def case_timeline(self, case_id: UUID, *, limit: int) -> list[StoredEntry]:
        """Every event about the case, and every event of the stories it is part of
        (its correlation ids: e.g. a notification about one of its referrals), by event
        time then log order."""
        stories = (
            select(log_entries.c.correlation_id)
            .where(log_entries.c.case_id == case_id)
            .distinct()
            .scalar_subquery()
        )
        statement = (
            select(*_ENTRY_COLUMNS)
            .where(or_(log_entries.c.case_id == case_id, log_entries.c.correlation_id.in_(stories)))
            .order_by(log_entries.c.event_time, log_entries.c.seq)
            .limit(limit)
        )
        return [_entry(row) for row in await self._session.execute(statement)]

    async def leaves(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(seq, leaf) for seq in [start, end), in order."""
        rows = await self._session.execute(
            select(log_entries.c.seq, log_entries.c.leaf)
            .where(log_entries.c.seq >= start, log_entries.c.seq < end)
            .order_by(log_entries.c.seq)
        )
        return [(int(row.seq), bytes(row.leaf)) for row in rows]

    # --- signed tree heads ----------------------------------------------------------

    async def tree_head(self, tree_size: int) -> StoredTreeHead | None:
        row = (
            await self._session.execute(
                select(tree_heads).where(tree_heads.c.tree_size == tree_size)
            )
        ).first()
        return (
            StoredTreeHead(row.tree_size, row.root_hash, row.issued_at, row.checkpoint)
            if row
            else None
        )

    async def latest_tree_heads(self, limit: int) -> list[StoredTreeHead]:
        rows = await self._session.execute(
            select(tree_heads).order_by(tree_heads.c.tree_size.desc()).limit(limit)
        )
        return [StoredTreeHead(r.tree_size, r.root_hash, r.issued_at, r.checkpoint) for r in rows]

    async def add_tree_head(self, head: StoredTreeHead) -> StoredTreeHead:
        """Store a signed tree head; if one of that size exists already, that one is kept
        and returned (two replicas may sign the same size)."""
        await self._session.execute(
            insert(tree_heads)
            .values(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                issued_at=head.issued_at,
                checkpoint=head.checkpoint,
            )
            .on_conflict_do_nothing(index_elements=[tree_heads.c.tree_size])
        )
        stored = await self.tree_head(head.tree_size)
        assert stored is not None
        return stored

    # --- coverage of source offsets -------------------------------------------------

    async def record_skipped(
        self, origin: RecordOrigin, event_id: UUID | None, reason: str
    ) -> None:
        """Account for an offset that added no leaf, unless it is logged already (a
        redelivery of an offset whose leaf is committed)."""
        logged = (
            select(literal(1))
            .where(
                log_entries.c.source_topic == origin.topic,
                log_entries.c.source_partition == origin.partition,
                log_entries.c.source_offset == origin.offset,
            )
            .exists()
        )
        candidate = select(
            literal(origin.topic),
            literal(origin.partition),
            literal(origin.offset),
            literal(event_id, type_=skipped_offsets.c.event_id.type),
            literal(reason),
        ).where(~logged)
        await self._session.execute(
            insert(skipped_offsets)
            .from_select(
                ["source_topic", "source_partition", "source_offset", "event_id", "reason"],
                candidate,
            )
            .on_conflict_do_nothing()
        )

    async def partition_accounts(self, topics: Sequence[str]) -> list[PartitionAccount]:
        """Per source partition of ``topics``: offsets logged, skipped, and the last one."""
        statement = text(
            """
            WITH accounted AS (
                SELECT source_topic, source_partition, source_offset, 'logged' AS outcome
                FROM log_entries WHERE source_topic = ANY(:topics)
                UNION ALL
                SELECT source_topic, source_partition, source_offset, reason
                FROM skipped_offsets WHERE source_topic = ANY(:topics)
            )
            SELECT source_topic, source_partition,
                   count(*) FILTER (WHERE outcome = 'logged') AS logged,
                   count(*) FILTER (WHERE outcome = 'duplicate') AS duplicates,
                   count(*) FILTER (WHERE outcome = 'dead_lettered') AS dead_lettered,
                   count(DISTINCT source_offset) AS accounted,
                   max(source_offset) AS last_offset
            FROM accounted GROUP BY source_topic, source_partition
            """
        )
        rows = await self._session.execute(statement, {"topics": list(topics)})
        return [
            PartitionAccount(
                r.source_topic,
                r.source_partition,
                r.logged,
                r.duplicates,
                r.dead_lettered,
                r.accounted,
                r.last_offset,
            )
            for r in rows
        ]

    async def missing_offsets(
        self, topic: str, partition: int, *, limit: int
    ) -> list[tuple[int, int]]:
        """Ranges [first, last] of offsets below the last accounted one that are neither
        logged nor skipped, oldest first."""
        statement = text(
            """
            WITH offsets AS (
                SELECT source_offset FROM log_entries
                WHERE source_topic = :topic AND source_partition = :partition
                UNION
                SELECT source_offset FROM skipped_offsets
                WHERE source_topic = :topic AND source_partition = :partition
                UNION
                SELECT -1
            ), steps AS (
                SELECT source_offset, lead(source_offset) OVER (ORDER BY source_offset) AS next
                FROM offsets
            )
            SELECT source_offset + 1 AS first, next - 1 AS last FROM steps
            WHERE next > source_offset + 1 ORDER BY source_offset LIMIT :limit
            """
        )
        rows = await self._session.execute(
            statement, {"topic": topic, "partition": partition, "limit": limit}
        )
        return [(int(r.first), int(r.last)) for r in rows]
