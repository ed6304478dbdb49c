"""The Merkle log on PostgreSQL: leaves, complete-subtree nodes, signed tree heads and their
cosignatures, the source partitions' accounts, integrity checks.

Level-0 nodes are the leaves' hashes in `log_entries`; higher levels live in `merkle_nodes`.
Rows are only ever inserted (the accounts aside): a committed tree size always has all of
its nodes, because a batch's leaves, the nodes they complete and so the new size are written
in one transaction. The append path talks to asyncpg directly (after the lock, one
statement reads the tree's right edge and the accounts, one writes the whole batch): it runs
for every event of the platform, and SQLAlchemy's statement building, then a round trip per
table, is what its profiles showed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import Row, func, literal, or_, select, text, tuple_, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.adapters import integrity_queries
from mpa_audit.adapters.tables import (
    integrity_checks,
    log_entries,
    merkle_nodes,
    tree_head_cosignatures,
    tree_heads,
)
from mpa_audit.app.ports import (
    DeadLetter,
    EventFilter,
    FullScan,
    IntegrityCheck,
    StoredCosignature,
    StoredEntry,
    StoredRow,
    StoredTreeHead,
)
from mpa_audit.domain.accounting import (
    AppendState,
    BatchWrite,
    OriginKey,
    Outcome,
    PartitionAccount,
    PartitionKey,
    StoredRecord,
)
from mpa_audit.domain.proof_plans import MissingNodeError
from mpa_audit_verify.compact_range import CompactRange, NodeId, frontier_node_ids
from mpa_audit_verify.hashing import HASH_SIZE

# Serialises appends across every replica of the service writing to this schema; a
# transaction-level lock, released by the commit that makes the new leaves visible.
_APPEND_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtext('mpa-audit:append:' || current_schema()))"
)

# The tree's size and right edge (one node per set bit of the size: level L has index
# (size >> L) - 1, level 0 being the last leaf's hash), which of the batch's event ids are
# logged, and the latest account of each of the batch's partitions: one round trip (a row
# per account, the tree's columns on each; one row without an account when there is none).
# Taken after the lock, so it sees every committed append.
_APPEND_STATE = """
WITH size AS (SELECT coalesce(max(seq) + 1, 0) AS n FROM log_entries),
peaks AS (
    SELECT level, (size.n >> level) - 1 AS node_index
    FROM size, generate_series(0, 62) AS level
    WHERE (size.n >> level) & 1 = 1
),
tree AS (
    SELECT (SELECT n FROM size) AS tree_size,
           ARRAY(
               SELECT CASE WHEN p.level = 0 THEN e.leaf_hash ELSE m.hash END
               FROM peaks p
               LEFT JOIN merkle_nodes m ON p.level > 0 AND m.level = p.level
                                       AND m.node_index = p.node_index
               LEFT JOIN log_entries e ON p.level = 0 AND e.seq = p.node_index
               ORDER BY p.level DESC
           ) AS peaks,
           ARRAY(SELECT event_id FROM log_entries WHERE event_id = ANY($1::uuid[]))
               AS logged_ids
),
accounts AS (
    SELECT DISTINCT ON (a.source_topic, a.source_partition) a.*
    FROM coverage_accounts a
    JOIN unnest($2::text[], $3::int[]) AS p(topic, partition)
      ON a.source_topic = p.topic AND a.source_partition = p.partition
    ORDER BY a.source_topic, a.source_partition, a.source_epoch DESC
)
SELECT tree.*, accounts.* FROM tree LEFT JOIN accounts ON true
"""

_RECORDS_AT = """
SELECT r.topic, r.partition, r.epoch, e.source_offset AS offset, e.event_id, 'logged' AS outcome
FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::bigint[])
     AS r(topic, partition, epoch, first, last)
JOIN log_entries e ON e.source_topic = r.topic AND e.source_partition = r.partition
 AND e.source_epoch = r.epoch AND e.source_offset BETWEEN r.first AND r.last
UNION ALL
SELECT r.topic, r.partition, r.epoch, s.source_offset, s.event_id, s.reason
FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::bigint[])
     AS r(topic, partition, epoch, first, last)
JOIN skipped_offsets s ON s.source_topic = r.topic AND s.source_partition = r.partition
 AND s.source_epoch = r.epoch AND s.source_offset BETWEEN r.first AND r.last
"""

# A batch's whole write in one statement: its leaves, the nodes they complete, the offsets
# it skipped, the gaps it opened and its partitions' new accounts, each from arrays (one
# per column; empty ones insert nothing). One round trip per batch whatever its size: under
# live traffic a batch is an event or two, and a statement per table was most of its cost.
_WRITE_BATCH = """
WITH leaves AS (
    INSERT INTO log_entries (seq, leaf, leaf_hash, event_id, event_type, event_time,
        correlation_id, case_id, actor_id, source_topic, source_partition, source_offset,
        source_epoch)
    SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::uuid[], $5::text[],
        $6::timestamptz[], $7::uuid[], $8::uuid[], $9::text[], $10::text[], $11::int[],
        $12::bigint[], $13::int[])
),
nodes AS (
    INSERT INTO merkle_nodes (level, node_index, hash)
    SELECT * FROM unnest($14::smallint[], $15::bigint[], $16::bytea[])
),
skipped AS (
    INSERT INTO skipped_offsets (source_topic, source_partition, source_offset, source_epoch,
        event_id, reason)
    SELECT * FROM unnest($17::text[], $18::int[], $19::bigint[], $20::int[], $21::uuid[],
        $22::text[])
),
gaps AS (
    INSERT INTO coverage_gaps (source_topic, source_partition, source_epoch, first_offset,
        last_offset)
    SELECT * FROM unnest($23::text[], $24::int[], $25::int[], $26::bigint[], $27::bigint[])
)
INSERT INTO coverage_accounts AS a (source_topic, source_partition, source_epoch,
    next_offset, seen, logged, duplicates, replays, dead_lettered, updated_at)
SELECT *, now() FROM unnest($28::text[], $29::int[], $30::int[], $31::bigint[],
    $32::bigint[], $33::bigint[], $34::bigint[], $35::bigint[], $36::bigint[])
ON CONFLICT (source_topic, source_partition, source_epoch) DO UPDATE SET
    next_offset = EXCLUDED.next_offset, seen = EXCLUDED.seen, logged = EXCLUDED.logged,
    duplicates = EXCLUDED.duplicates, replays = EXCLUDED.replays,
    dead_lettered = EXCLUDED.dead_lettered, updated_at = EXCLUDED.updated_at
"""


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column (``width`` empty lists for no rows)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


_ENTRY_COLUMNS = (
    log_entries.c.seq,
    log_entries.c.leaf,
    log_entries.c.leaf_hash,
    log_entries.c.logged_at,
)


def _entry(row: Row[int, bytes, bytes, datetime]) -> StoredEntry:
    return StoredEntry(row.seq, row.leaf, row.leaf_hash, row.logged_at)


def _account(row: asyncpg.Record) -> PartitionAccount:
    return PartitionAccount(
        topic=row["source_topic"],
        partition=row["source_partition"],
        epoch=row["source_epoch"],
        next_offset=row["next_offset"],
        seen=row["seen"],
        logged=row["logged"],
        duplicates=row["duplicates"],
        replays=row["replays"],
        dead_lettered=row["dead_lettered"],
    )


def _tree_head(row: Row[Any]) -> StoredTreeHead:
    return StoredTreeHead(row.tree_size, row.root_hash, row.issued_at, row.checkpoint)


class LogStore:
    """Reads and appends of the log within the caller's session (its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _driver(self) -> asyncpg.Connection:
        """The session's asyncpg connection, inside the session's transaction."""
        connection = await self._session.connection()
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter begins lazily, with its first statement.
            await self._session.execute(text("SELECT 1"))
        return driver

    # --- appending -------------------------------------------------------------------

    async def lock_appends(self) -> None:
        await self._session.execute(_APPEND_LOCK)

    async def append_state(
        self, event_ids: Sequence[UUID], partitions: Sequence[PartitionKey]
    ) -> AppendState:
        driver = await self._driver()
        topics, numbers = _columns(partitions, 2)
        rows = await driver.fetch(_APPEND_STATE, list(event_ids), topics, numbers)
        row = rows[0]
        size = int(row["tree_size"])
        peaks = tuple(bytes(p) if p is not None else b"" for p in row["peaks"])
        if any(len(p) != HASH_SIZE for p in peaks):
            raise MissingNodeError(f"node store lacks nodes of the right edge at size {size}")
        accounts: dict[PartitionKey, PartitionAccount] = {}
        for account_row in rows:
            if account_row["source_topic"] is not None:
                account = _account(account_row)
                accounts[account.key] = account
        return AppendState(size, peaks, frozenset(row["logged_ids"]), accounts, {})

    async def records_at(
        self, ranges: Sequence[tuple[str, int, int, int, int]]
    ) -> Mapping[OriginKey, StoredRecord]:
        if not ranges:
            return {}
        driver = await self._driver()
        columns = [list(c) for c in zip(*ranges, strict=True)]
        records: dict[OriginKey, StoredRecord] = {}
        for row in await driver.fetch(_RECORDS_AT, *columns):
            key = (row["topic"], row["partition"], row["epoch"], row["offset"])
            # A leaf wins over a skipped row at the same offset (an undecodable dead letter
            # decoded later): it is what the offset became.
            if key not in records or row["outcome"] == Outcome.LOGGED:
                records[key] = StoredRecord(row["event_id"], Outcome(row["outcome"]))
        return records

    async def write_batch(self, write: BatchWrite) -> None:
        driver = await self._driver()
        leaves = [
            (
                leaf.seq,
                leaf.leaf,
                leaf.leaf_hash,
                s.event_id,
                s.event_type,
                s.event_time,
                s.correlation_id,
                s.case_id,
                s.actor_id,
                s.origin.topic,
                s.origin.partition,
                s.origin.offset,
                leaf.epoch,
            )
            for leaf in write.leaves
            for s in (leaf.summary,)
        ]
        nodes = [(n.level, n.index, n.hash) for n in write.nodes]
        skipped = [
            (s.origin.topic, s.origin.partition, s.origin.offset, s.epoch, s.event_id,
             s.outcome.value)
            for s in write.skipped
        ]  # fmt: skip
        gaps = [(g.topic, g.partition, g.epoch, g.first, g.last) for g in write.gaps]
        accounts = [
            (a.topic, a.partition, a.epoch, a.next_offset, a.seen, a.logged, a.duplicates,
             a.replays, a.dead_lettered)
            for a in write.partitions
        ]  # fmt: skip
        await driver.execute(
            _WRITE_BATCH,
            *_columns(leaves, 13),
            *_columns(nodes, 3),
            *_columns(skipped, 6),
            *_columns(gaps, 5),
            *_columns(accounts, 9),
        )

    # --- reading the tree -------------------------------------------------------------

    async def snapshot(self) -> None:
        await self._session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    async def tree_size(self) -> int:
        last = await self._session.scalar(select(func.max(log_entries.c.seq)))
        return 0 if last is None else int(last) + 1

    async def compact_range(self, tree_size: int) -> CompactRange:
        ids = frontier_node_ids(tree_size)
        hashes = await self.get_nodes(ids)
        missing = [node_id for node_id in ids if node_id not in hashes]
        if missing:
            raise MissingNodeError(f"node store lacks nodes {missing}")
        return CompactRange.from_peaks(tree_size, [hashes[node_id] for node_id in ids])

    async def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
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
        rows = await self._session.execute(
            select(log_entries.c.seq, log_entries.c.leaf)
            .where(log_entries.c.seq >= start, log_entries.c.seq < end)
            .order_by(log_entries.c.seq)
        )
        return [(int(row.seq), bytes(row.leaf)) for row in rows]

    async def rows(self, start: int, end: int, batch: int) -> AsyncIterator[list[StoredRow]]:
        columns = (
            log_entries.c.seq,
            log_entries.c.leaf,
            log_entries.c.leaf_hash,
            log_entries.c.event_id,
            log_entries.c.event_type,
            log_entries.c.event_time,
            log_entries.c.correlation_id,
            log_entries.c.case_id,
            log_entries.c.actor_id,
            log_entries.c.source_topic,
            log_entries.c.source_partition,
            log_entries.c.source_offset,
        )
        after = start - 1
        while after < end - 1:
            found = (
                await self._session.execute(
                    select(*columns)
                    .where(log_entries.c.seq > after, log_entries.c.seq < end)
                    .order_by(log_entries.c.seq)
                    .limit(batch)
                )
            ).all()
            if not found:
                return
            yield [
                StoredRow(
                    r.seq,
                    bytes(r.leaf),
                    bytes(r.leaf_hash),
                    r.event_id,
                    r.event_type,
                    r.event_time,
                    r.correlation_id,
                    r.case_id,
                    r.actor_id,
                    r.source_topic,
                    r.source_partition,
                    r.source_offset,
                )
                for r in found
            ]
            after = found[-1].seq

    async def nodes_completed(self, start: int, end: int) -> dict[NodeId, bytes]:
        # Per level L: nodes whose subtree ends in (start, end], i.e. indexes
        # [floor(start / 2**L), floor(end / 2**L) - 1]; one index range scan per level.
        levels, lows, highs = [], [], []
        for level in range(1, max(end.bit_length(), 1) + 1):
            low, high = start >> level, (end >> level) - 1
            if high >= low:
                levels.append(level)
                lows.append(low)
                highs.append(high)
        if not levels:
            return {}
        driver = await self._driver()
        rows = await driver.fetch(
            """
            SELECT m.level, m.node_index, m.hash FROM merkle_nodes m
            JOIN unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS r(level, low, high)
              ON m.level = r.level AND m.node_index BETWEEN r.low AND r.high
            """,
            levels,
            lows,
            highs,
        )
        return {(int(r["level"]), int(r["node_index"])): bytes(r["hash"]) for r in rows}

    # --- signed tree heads and their cosignatures -------------------------------------

    async def tree_head(self, tree_size: int) -> StoredTreeHead | None:
        row = (
            await self._session.execute(
                select(tree_heads).where(tree_heads.c.tree_size == tree_size)
            )
        ).first()
        return _tree_head(row) if row else None

    async def latest_tree_heads(self, limit: int) -> list[StoredTreeHead]:
        rows = await self._session.execute(
            select(tree_heads).order_by(tree_heads.c.tree_size.desc()).limit(limit)
        )
        return [_tree_head(r) for r in rows]

    async def tree_heads_between(self, low: int, high: int) -> list[StoredTreeHead]:
        rows = await self._session.execute(
            select(tree_heads)
            .where(tree_heads.c.tree_size > low, tree_heads.c.tree_size <= high)
            .order_by(tree_heads.c.tree_size)
        )
        return [_tree_head(r) for r in rows]

    async def add_tree_head(self, head: StoredTreeHead) -> StoredTreeHead:
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

    async def cosignatures(self, tree_size: int) -> list[StoredCosignature]:
        table = tree_head_cosignatures
        rows = await self._session.execute(
            select(table)
            .where(table.c.tree_size == tree_size)
            .order_by(table.c.witness, table.c.cosignature)
        )
        return [
            StoredCosignature(r.tree_size, r.witness, r.cosignature, r.cosigned_at) for r in rows
        ]

    async def add_cosignature(self, cosignature: StoredCosignature) -> None:
        await self._session.execute(
            insert(tree_head_cosignatures)
            .values(
                tree_size=cosignature.tree_size,
                witness=cosignature.witness,
                cosignature=cosignature.line,
                cosigned_at=cosignature.cosigned_at,
            )
            .on_conflict_do_nothing()
        )

    async def latest_cosigned_size(self, witness: str) -> int | None:
        table = tree_head_cosignatures
        size = await self._session.scalar(
            select(func.max(table.c.tree_size)).where(table.c.witness == witness)
        )
        return None if size is None else int(size)

    # --- coverage ---------------------------------------------------------------------

    async def accounts(self, topics: Sequence[str]) -> list[PartitionAccount]:
        driver = await self._driver()
        rows = await driver.fetch(
            "SELECT * FROM coverage_accounts WHERE source_topic = ANY($1::text[])", list(topics)
        )
        return [_account(row) for row in rows]

    async def open_gaps(self, account: PartitionAccount, limit: int) -> list[tuple[int, int]]:
        driver = await self._driver()
        key = (account.topic, account.partition, account.epoch)
        gaps = await driver.fetch(
            "SELECT first_offset, last_offset FROM coverage_gaps WHERE source_topic = $1 "
            "AND source_partition = $2 AND source_epoch = $3 ORDER BY first_offset",
            *key,
        )
        remaining: list[tuple[int, int]] = []
        for gap in gaps:
            first, last = int(gap["first_offset"]), int(gap["last_offset"])
            # Offsets read later inside the gap (a re-read after an offset reset) fill it.
            filled = await driver.fetch(
                """
                SELECT source_offset FROM log_entries WHERE source_topic = $1
                  AND source_partition = $2 AND source_epoch = $3
                  AND source_offset BETWEEN $4 AND $5
                UNION
                SELECT source_offset FROM skipped_offsets WHERE source_topic = $1
                  AND source_partition = $2 AND source_epoch = $3
                  AND source_offset BETWEEN $4 AND $5
                ORDER BY 1
                """,
                *key,
                first,
                last,
            )
            cursor = first
            for row in filled:
                offset = int(row["source_offset"])
                if offset > cursor:
                    remaining.append((cursor, offset - 1))
                cursor = offset + 1
            if cursor <= last:
                remaining.append((cursor, last))
            if len(remaining) >= limit:
                break
        return remaining[:limit]

    async def missing_dead_letters(
        self, account: PartitionAccount, limit: int
    ) -> tuple[int, list[DeadLetter]]:
        driver = await self._driver()
        rows = await driver.fetch(
            """
            SELECT s.source_offset, s.event_id FROM skipped_offsets s
            WHERE s.reason = 'dead_lettered' AND s.source_topic = $1
              AND s.source_partition = $2 AND s.source_epoch = $3
              AND NOT EXISTS (SELECT 1 FROM log_entries e WHERE e.event_id = s.event_id)
              AND NOT EXISTS (
                  SELECT 1 FROM log_entries e WHERE e.source_topic = s.source_topic
                     AND e.source_partition = s.source_partition
                     AND e.source_epoch = s.source_epoch AND e.source_offset = s.source_offset)
            ORDER BY s.source_offset
            """,
            account.topic,
            account.partition,
            account.epoch,
        )
        missing = [DeadLetter(int(r["source_offset"]), r["event_id"]) for r in rows]
        return len(missing), missing[:limit]

    # --- integrity --------------------------------------------------------------------

    async def latest_check(
        self, *, scope: str | None = None, intact: bool | None = None
    ) -> IntegrityCheck | None:
        statement = select(integrity_checks).order_by(integrity_checks.c.id.desc()).limit(1)
        if scope is not None:
            statement = statement.where(integrity_checks.c.scope == scope)
        if intact is not None:
            statement = statement.where(integrity_checks.c.intact == intact)
        row = (await self._session.execute(statement)).first()
        if row is None:
            return None
        peaks = bytes(row.peaks or b"")
        return IntegrityCheck(
            scope=row.scope,
            checked_at=row.checked_at,
            from_size=row.from_size,
            tree_size=row.tree_size,
            intact=row.intact,
            findings=tuple((f["check"], f["detail"]) for f in row.findings),
            root_hash=bytes(row.root_hash) if row.root_hash is not None else None,
            peaks=tuple(peaks[i : i + HASH_SIZE] for i in range(0, len(peaks), HASH_SIZE)),
        )

    async def add_check(self, check: IntegrityCheck) -> None:
        await self._session.execute(
            integrity_checks.insert().values(
                scope=check.scope,
                checked_at=check.checked_at or datetime.now(UTC),
                from_size=check.from_size,
                tree_size=check.tree_size,
                intact=check.intact,
                findings=[{"check": c, "detail": d} for c, d in check.findings],
                root_hash=check.root_hash,
                peaks=b"".join(check.peaks) if check.peaks else None,
            )
        )

    async def full_scan(self) -> FullScan:
        return await integrity_queries.full_scan(self._session)
