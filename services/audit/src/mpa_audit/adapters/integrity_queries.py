"""Queries that re-check the stored log against its own hashes (run by the integrity check).

Hashing runs inside PostgreSQL (`sha256`), so the tree's nodes are re-checked without
moving them; the leaves' indexed columns are compared in Python (`app.integrity`), with the
same parser that wrote them.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.app.ports import FullScan

SAMPLE = 20
"""At most this many offending seqs or nodes are listed per check."""


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


async def account_mismatches(session: AsyncSession) -> list[str]:
    """The partitions' running accounts recounted from the log (what coverage trusts)."""
    rows = await session.execute(
        text(
            """
            WITH counted AS (
                SELECT source_topic, source_partition, source_epoch,
                       count(DISTINCT source_offset) AS seen,
                       max(source_offset) + 1 AS next_offset,
                       count(*) FILTER (WHERE outcome = 'logged') AS logged,
                       count(*) FILTER (WHERE outcome = 'duplicate') AS duplicates,
                       count(*) FILTER (WHERE outcome = 'replay_for_others') AS replays,
                       count(*) FILTER (WHERE outcome = 'dead_lettered') AS dead_lettered
                FROM (
                    SELECT source_topic, source_partition, source_epoch, source_offset,
                           'logged' AS outcome FROM log_entries
                    UNION ALL
                    SELECT source_topic, source_partition, source_epoch, source_offset, reason
                    FROM skipped_offsets
                ) AS outcomes
                GROUP BY source_topic, source_partition, source_epoch
            )
            SELECT coalesce(c.source_topic, a.source_topic) AS topic,
                   coalesce(c.source_partition, a.source_partition) AS partition,
                   coalesce(c.source_epoch, a.source_epoch) AS epoch
            FROM counted c
            FULL JOIN coverage_accounts a USING (source_topic, source_partition, source_epoch)
            WHERE c.seen IS DISTINCT FROM a.seen
               OR c.next_offset IS DISTINCT FROM a.next_offset
               OR c.logged IS DISTINCT FROM a.logged
               OR c.duplicates IS DISTINCT FROM a.duplicates
               OR c.replays IS DISTINCT FROM a.replays
               OR c.dead_lettered IS DISTINCT FROM a.dead_lettered
            ORDER BY 1, 2, 3 LIMIT :limit
            """
        ),
        {"limit": SAMPLE},
    )
    return [
        f"the account of {r.topic}[{r.partition}] epoch {r.epoch} differs from the log's rows"
        for r in rows
    ]


async def full_scan(session: AsyncSession) -> FullScan:
    count, last = await leaf_count_and_last_seq(session)
    return FullScan(
        leaf_count=count,
        last_seq=last,
        leaves_with_wrong_hash=await leaves_with_wrong_hash(session),
        nodes_with_wrong_hash=await nodes_with_wrong_hash(session),
        node_counts=await node_counts(session),
        account_mismatches=await account_mismatches(session),
    )
