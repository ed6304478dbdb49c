"""Use case: completeness of the log per source partition (accounted offsets, lag, what is
missing), read from the accounts the appends maintain: no scan of the log per call.

An offset is accounted when it became a leaf, held an event the log has already (a
duplicate), or was a dead-letter replay addressed to another consumer group. A dead-lettered
offset is not accounted: its event is *missing* until it is in the log (e.g. `mpa dlq replay`
re-delivered it at a new offset). Offsets passed over (gaps) are missing too. Work per call:
the accounts (one row per partition and epoch), plus the gap and dead-letter rows of the
incomplete ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mpa_audit.app.ports import DeadLetter, EndOffsets, UnitOfWorkFactory
from mpa_audit.domain.accounting import PartitionAccount

MAX_LISTED = 100
"""Gaps and missing events listed per partition (the counts are always complete)."""


@dataclass(frozen=True, slots=True)
class PartitionCoverage:
    topic: str
    partition: int
    epoch: int
    current: bool
    """The partition's latest epoch (the one Kafka's end offset refers to)."""
    logged: int
    duplicates: int
    replays: int
    dead_lettered: int
    missing_count: int
    """Dead-lettered offsets whose event is not in the log."""
    missing: list[DeadLetter]
    next_offset: int
    end_offset: int | None
    gaps: list[tuple[int, int]]

    @property
    def lag(self) -> int | None:
        if not self.current or self.end_offset is None:
            return None
        return max(0, self.end_offset - self.next_offset)

    @property
    def complete(self) -> bool:
        """Every offset below next_offset accounted for: no gap, no missing event."""
        return not self.gaps and self.missing_count == 0


async def coverage(
    uow_factory: UnitOfWorkFactory, end_offsets: EndOffsets, topics: Sequence[str]
) -> list[PartitionCoverage]:
    """For every partition (and epoch) of ``topics``: what is accounted for, how far behind
    the log is, and what is missing."""
    ends = await end_offsets(topics)
    async with uow_factory() as uow:
        accounts = await uow.log.accounts(topics)
        latest: dict[tuple[str, int], int] = {}
        for account in accounts:
            key = account.key
            latest[key] = max(latest.get(key, 0), account.epoch)
        report: list[PartitionCoverage] = []
        for account in accounts:
            gaps = await uow.log.open_gaps(account, MAX_LISTED) if account.gap_count else []
            missing_count, missing = (
                await uow.log.missing_dead_letters(account, MAX_LISTED)
                if account.dead_lettered
                else (0, [])
            )
            current = latest[account.key] == account.epoch
            report.append(
                _coverage(account, current, ends.get(account.key), gaps, missing_count, missing)
            )
    for topic, partition in sorted(set(ends) - set(latest)):
        report.append(
            _coverage(PartitionAccount(topic, partition), True, ends[(topic, partition)], [], 0, [])
        )
    return sorted(report, key=lambda p: (p.topic, p.partition, p.epoch))


def _coverage(
    account: PartitionAccount,
    current: bool,
    end_offset: int | None,
    gaps: list[tuple[int, int]],
    missing_count: int,
    missing: list[DeadLetter],
) -> PartitionCoverage:
    return PartitionCoverage(
        topic=account.topic,
        partition=account.partition,
        epoch=account.epoch,
        current=current,
        logged=account.logged,
        duplicates=account.duplicates,
        replays=account.replays,
        dead_lettered=account.dead_lettered,
        missing_count=missing_count,
        missing=missing,
        next_offset=account.next_offset,
        end_offset=end_offset if current else None,
        gaps=gaps,
    )
