"""Use case: completeness of the log per source partition (offsets logged, lag, gaps)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import LogStore, PartitionAccount

EndOffsets = Callable[[Sequence[str]], Awaitable[dict[tuple[str, int], int]]]
"""Asks the broker for the end offset of every partition of the given topics."""

MAX_GAPS_LISTED = 100


@dataclass(frozen=True, slots=True)
class PartitionCoverage:
    topic: str
    partition: int
    logged: int
    duplicates: int
    dead_lettered: int
    next_offset: int
    end_offset: int | None
    lag: int | None
    gaps: list[tuple[int, int]]

    @property
    def complete(self) -> bool:
        """Every offset below next_offset is logged or a duplicate of a logged event."""
        return not self.gaps and self.dead_lettered == 0


async def coverage(
    sessions: async_sessionmaker[AsyncSession],
    end_offsets: EndOffsets,
    topics: Sequence[str],
) -> list[PartitionCoverage]:
    """For every partition of ``topics``: what is accounted for, how far behind the log is,
    and which offsets below the last accounted one are missing (never logged nor skipped)."""
    ends = await end_offsets(topics)
    async with sessions() as session:
        store = LogStore(session)
        accounts = {(a.topic, a.partition): a for a in await store.partition_accounts(topics)}
        gaps: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for key, account in accounts.items():
            # Offsets 0..last_offset all accounted for: no gap to look for.
            if account.accounted != account.last_offset + 1:
                gaps[key] = await store.missing_offsets(
                    account.topic, account.partition, limit=MAX_GAPS_LISTED
                )
    report = []
    for topic, partition in sorted(set(ends) | set(accounts)):
        account = accounts.get((topic, partition)) or PartitionAccount(
            topic, partition, 0, 0, 0, 0, -1
        )
        next_offset = account.last_offset + 1
        end = ends.get((topic, partition))
        report.append(
            PartitionCoverage(
                topic=topic,
                partition=partition,
                logged=account.logged,
                duplicates=account.duplicates,
                dead_lettered=account.dead_lettered,
                next_offset=next_offset,
                end_offset=end,
                lag=None if end is None else max(0, end - next_offset),
                gaps=gaps.get((topic, partition), []),
            )
        )
    return report
