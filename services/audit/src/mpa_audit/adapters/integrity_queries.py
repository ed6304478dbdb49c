"""Queries that re-check the stored log against its own hashes (run by the integrity check).

Hashing runs inside PostgreSQL (`sha256`), so the tree's nodes are re-checked without
moving them; only the leaves' indexed columns are compared in Python, with the same parser
that wrote them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.adapters.tables import log_entries

SAMPLE = 20
"""At most this many offending seqs or nodes are listed per check."""


@dataclass(frozen=True, slots=True)
class IndexedColumns:
    """A log row's leaf and the columns the log indexes it by."""

    seq: int
    leaf: bytes
    event_id: UUID
    event_type: str
    event_time: datetime
    correlation_id: UUID
    case_id: UUID | None
    actor_id: str | None
    source_topic: str
    source_partition: int
    source_offset: int


async def leaf_count_and_last_seq(session: AsyncSession) -> tuple[int, int | None]:
    row = (
        await session.execute(text("SELECT count(*) AS n, max(seq) AS last FROM log_entries"))
    ).one()
    return int(row.n), None if row.last is None else int(row.last)


async def leaves_with_wrong_hash(session: AsyncSession) -> list[int]:
    rows = await session.execute(
        text(
            "SELECT seq FROM log_entries WHERE sha256('\\x00'::bytea || leaf) <> leaf_hash "
            "ORDER BY seq LIMIT :limit"
        ),
        {"limit": SAMPLE},
    )
    return [int(r.seq) for r in rows]


async def nodes_with_wrong_hash(session: AsyncSession) -> list[tuple[int, int]]:
    """Interior nodes that are not SHA-256(0x01 || left child || right child), or lack a child."""
    rows = await session.execute(
        text(
            """
            SELECT n.level, n.node_index FROM merkle_nodes n
            LEFT JOIN log_entries l ON l.seq = 2 * n.node_index
            LEFT JOIN log_entries r ON r.seq = 2 * n.node_index + 1
            WHERE n.level = 1 AND (l.seq IS NULL OR r.seq IS NULL
                  OR sha256('\\x01'::bytea || l.leaf_hash || r.leaf_hash) <> n.hash)
            UNION ALL
            SELECT n.level, n.node_index FROM merkle_nodes n
            LEFT JOIN merkle_nodes l ON l.level = n.level - 1 AND l.node_index = 2 * n.node_index
            LEFT JOIN merkle_nodes r
                   ON r.level = n.level - 1 AND r.node_index = 2 * n.node_index + 1
            WHERE n.level >= 2 AND (l.hash IS NULL OR r.hash IS NULL
                  OR sha256('\\x01'::bytea || l.hash || r.hash) <> n.hash)
            ORDER BY 1, 2 LIMIT :limit
            """
        ),
        {"limit": SAMPLE},
    )
    return [(int(r.level), int(r.node_index)) for r in rows]


async def node_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        text("SELECT level, count(*) AS n FROM merkle_nodes GROUP BY level")
    )
    return {int(r.level): int(r.n) for r in rows}


async def indexed_columns(
    session: AsyncSession, batch: int = 5000
) -> AsyncIterator[IndexedColumns]:
    """Every row's leaf and indexed columns, in log order, fetched in batches."""
    columns = (
        log_entries.c.seq,
        log_entries.c.leaf,
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
    after = -1
    while True:
        rows = (
            await session.execute(
                select(*columns)
                .where(log_entries.c.seq > after)
                .order_by(log_entries.c.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield IndexedColumns(
                row.seq,
                bytes(row.leaf),
                row.event_id,
                row.event_type,
                row.event_time,
                row.correlation_id,
                row.case_id,
                row.actor_id,
                row.source_topic,
                row.source_partition,
                row.source_offset,
            )
        after = rows[-1].seq
