"""In-memory stand-ins for the audit's unit of work and log repository (`app.ports`), for
use-case tests that run in milliseconds. The fake keeps the database's guarantees that the
use cases rely on: inserts only, unique seqs, event ids and origins per epoch, rollback of
an uncommitted block, one snapshot per check."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

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
from mpa_audit_verify.hashing import leaf_hash, node_hash
from mpa_common.testing import InMemoryUnitOfWork


@dataclass
class FakeRow:
    row: StoredRow
    epoch: int
    logged_at: datetime


@dataclass
class LogTables:
    """What the database holds (tests may tamper with it, like a superuser)."""

    entries: dict[int, FakeRow] = field(default_factory=dict)
    nodes: dict[NodeId, bytes] = field(default_factory=dict)
    skipped: dict[tuple[str, int, int, int], tuple[UUID | None, str]] = field(default_factory=dict)
    """(topic, partition, epoch, offset) -> (event id, reason)."""
    accounts: dict[tuple[str, int, int], PartitionAccount] = field(default_factory=dict)
    gaps: dict[tuple[str, int, int, int], int] = field(default_factory=dict)
    tree_heads: dict[int, StoredTreeHead] = field(default_factory=dict)
    cosignatures: dict[tuple[int, str, str], StoredCosignature] = field(default_factory=dict)
    checks: list[IntegrityCheck] = field(default_factory=list)
    locks_taken: int = 0


class FakeLogStore:
    def __init__(self, tables: LogTables) -> None:
        self.t = tables

    # --- appending ------------------------------------------------------------------

    async def lock_appends(self) -> None:
        self.t.locks_taken += 1

    async def append_state(
        self, event_ids: Sequence[UUID], partitions: Sequence[PartitionKey]
    ) -> AppendState:
        size = len(self.t.entries)
        compact = await self.compact_range(size)
        logged = {r.row.event_id for r in self.t.entries.values()}
        current: dict[PartitionKey, PartitionAccount] = {}
        for (topic, partition, _epoch), account in sorted(self.t.accounts.items()):
            if (topic, partition) in partitions:
                current[(topic, partition)] = account  # sorted: the highest epoch wins
        return AppendState(size, compact.peaks, frozenset(set(event_ids) & logged), current, {})

    async def records_at(
        self, ranges: Sequence[tuple[str, int, int, int, int]]
    ) -> Mapping[OriginKey, StoredRecord]:
        found: dict[OriginKey, StoredRecord] = {}
        for topic, partition, epoch, first, last in ranges:
            for (t, p, e, offset), (event_id, reason) in self.t.skipped.items():
                if (t, p, e) == (topic, partition, epoch) and first <= offset <= last:
                    found[(t, p, e, offset)] = StoredRecord(event_id, Outcome(reason))
            for entry in self.t.entries.values():
                row = entry.row
                key = (row.source_topic, row.source_partition, entry.epoch, row.source_offset)
                if key[:3] == (topic, partition, epoch) and first <= key[3] <= last:
                    found[key] = StoredRecord(row.event_id, Outcome.LOGGED)
        return found

    async def write_batch(self, write: BatchWrite) -> None:
        now = datetime.now(UTC)
        ids = {r.row.event_id for r in self.t.entries.values()}
        origins = {
            (r.row.source_topic, r.row.source_partition, r.epoch, r.row.source_offset)
            for r in self.t.entries.values()
        }
        for leaf in write.leaves:
            s = leaf.summary
            origin = (s.origin.topic, s.origin.partition, leaf.epoch, s.origin.offset)
            assert leaf.seq == len(self.t.entries), "seqs must stay contiguous"
            assert s.event_id not in ids, "unique event id"
            assert origin not in origins, "unique origin per epoch"
            ids.add(s.event_id)
            origins.add(origin)
            self.t.entries[leaf.seq] = FakeRow(
                StoredRow(
                    leaf.seq, leaf.leaf, leaf.leaf_hash, s.event_id, s.event_type, s.event_time,
                    s.correlation_id, s.case_id, s.actor_id, s.origin.topic, s.origin.partition,
                    s.origin.offset,
                ),
                leaf.epoch,
                now,
            )  # fmt: skip
        for node in write.nodes:
            assert node.level > 0
            assert (node.level, node.index) not in self.t.nodes, "nodes are inserted once"
            self.t.nodes[(node.level, node.index)] = node.hash
        for skipped in write.skipped:
            key = (
                skipped.origin.topic,
                skipped.origin.partition,
                skipped.epoch,
                skipped.origin.offset,
            )
            assert key not in self.t.skipped, "one skipped row per offset"
            self.t.skipped[key] = (skipped.event_id, skipped.outcome.value)
        for gap in write.gaps:
            self.t.gaps[(gap.topic, gap.partition, gap.epoch, gap.first)] = gap.last
        for account in write.partitions:
            self.t.accounts[(account.topic, account.partition, account.epoch)] = account

    # --- reading the tree -------------------------------------------------------------

    async def snapshot(self) -> None:
        return None

    async def tree_size(self) -> int:
        return max(self.t.entries, default=-1) + 1

    async def get_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        for level, index in ids:
            if level == 0 and index in self.t.entries:
                found[(0, index)] = self.t.entries[index].row.leaf_hash
            elif level > 0 and (level, index) in self.t.nodes:
                found[(level, index)] = self.t.nodes[(level, index)]
        return found

    async def compact_range(self, tree_size: int) -> CompactRange:
        ids = frontier_node_ids(tree_size)
        hashes = await self.get_nodes(ids)
        missing = [i for i in ids if i not in hashes]
        if missing:
            raise MissingNodeError(f"node store lacks nodes {missing}")
        return CompactRange.from_peaks(tree_size, [hashes[i] for i in ids])

    def _entry(self, entry: FakeRow) -> StoredEntry:
        return StoredEntry(entry.row.seq, entry.row.leaf, entry.row.leaf_hash, entry.logged_at)

    async def entry(self, seq: int) -> StoredEntry | None:
        found = self.t.entries.get(seq)
        return self._entry(found) if found else None

    async def find_entries(
        self, conditions: EventFilter, *, after: int | None, limit: int
    ) -> list[StoredEntry]:
        def matches(row: StoredRow) -> bool:
            c = conditions
            return (
                (after is None or row.seq > after)
                and (c.correlation_id is None or row.correlation_id == c.correlation_id)
                and (c.case_id is None or row.case_id == c.case_id)
                and (c.event_type is None or row.event_type == c.event_type)
                and (c.actor_id is None or row.actor_id == c.actor_id)
                and (c.since is None or row.event_time >= c.since)
                and (c.until is None or row.event_time < c.until)
            )

        rows = [e for _, e in sorted(self.t.entries.items()) if matches(e.row)]
        return [self._entry(e) for e in rows[:limit]]

    async def case_timeline(self, case_id: UUID, *, limit: int) -> list[StoredEntry]:
        stories = {
            e.row.correlation_id for e in self.t.entries.values() if e.row.case_id == case_id
        }
        rows = [
            e
            for e in self.t.entries.values()
            if e.row.case_id == case_id or e.row.correlation_id in stories
        ]
        rows.sort(key=lambda e: (e.row.event_time, e.row.seq))
        return [self._entry(e) for e in rows[:limit]]

    async def leaves(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return [(s, e.row.leaf) for s, e in sorted(self.t.entries.items()) if start <= s < end]

    async def rows(self, start: int, end: int, batch: int) -> AsyncIterator[list[StoredRow]]:
        rows = [e.row for s, e in sorted(self.t.entries.items()) if start <= s < end]
        for index in range(0, len(rows), batch):
            yield rows[index : index + batch]

    async def nodes_completed(self, start: int, end: int) -> dict[NodeId, bytes]:
        return {
            (level, index): value
            for (level, index), value in self.t.nodes.items()
            if start < (index + 1) << level <= end
        }

    # --- tree heads -------------------------------------------------------------------

    async def tree_head(self, tree_size: int) -> StoredTreeHead | None:
        return self.t.tree_heads.get(tree_size)

    async def latest_tree_heads(self, limit: int) -> list[StoredTreeHead]:
        return [self.t.tree_heads[s] for s in sorted(self.t.tree_heads, reverse=True)[:limit]]

    async def tree_heads_between(self, low: int, high: int) -> list[StoredTreeHead]:
        return [self.t.tree_heads[s] for s in sorted(self.t.tree_heads) if low < s <= high]

    async def add_tree_head(self, head: StoredTreeHead) -> StoredTreeHead:
        return self.t.tree_heads.setdefault(head.tree_size, head)

    async def cosignatures(self, tree_size: int) -> list[StoredCosignature]:
        return sorted(
            (c for (s, _, _), c in self.t.cosignatures.items() if s == tree_size),
            key=lambda c: (c.witness, c.line),
        )

    async def add_cosignature(self, cosignature: StoredCosignature) -> None:
        key = (cosignature.tree_size, cosignature.witness, cosignature.line)
        self.t.cosignatures.setdefault(key, cosignature)

    async def latest_cosigned_size(self, witness: str) -> int | None:
        sizes = [s for (s, w, _) in self.t.cosignatures if w == witness]
        return max(sizes) if sizes else None

    # --- coverage ---------------------------------------------------------------------

    async def accounts(self, topics: Sequence[str]) -> list[PartitionAccount]:
        return [a for a in self.t.accounts.values() if a.topic in topics]

    def _seen(self, account: PartitionAccount) -> set[int]:
        key = (account.topic, account.partition, account.epoch)
        seen = {k[3] for k in self.t.skipped if k[:3] == key}
        seen |= {
            e.row.source_offset
            for e in self.t.entries.values()
            if (e.row.source_topic, e.row.source_partition, e.epoch) == key
        }
        return seen

    async def open_gaps(self, account: PartitionAccount, limit: int) -> list[tuple[int, int]]:
        key = (account.topic, account.partition, account.epoch)
        seen = self._seen(account)
        remaining: list[tuple[int, int]] = []
        for (topic, partition, epoch, first), last in sorted(self.t.gaps.items()):
            if (topic, partition, epoch) != key:
                continue
            run: int | None = None
            for offset in range(first, last + 1):
                if offset in seen:
                    if run is not None:
                        remaining.append((run, offset - 1))
                        run = None
                elif run is None:
                    run = offset
            if run is not None:
                remaining.append((run, last))
        return remaining[:limit]

    async def missing_dead_letters(
        self, account: PartitionAccount, limit: int
    ) -> tuple[int, list[DeadLetter]]:
        key = (account.topic, account.partition, account.epoch)
        logged = {e.row.event_id for e in self.t.entries.values()}
        leaf_origins = {
            (e.row.source_topic, e.row.source_partition, e.epoch, e.row.source_offset)
            for e in self.t.entries.values()
        }
        missing = [
            DeadLetter(k[3], event_id)
            for k, (event_id, reason) in sorted(self.t.skipped.items(), key=lambda i: i[0][3])
            if k[:3] == key
            and reason == Outcome.DEAD_LETTERED
            and event_id not in logged
            and k not in leaf_origins
        ]
        return len(missing), missing[:limit]

    # --- integrity --------------------------------------------------------------------

    async def latest_check(
        self, *, scope: str | None = None, intact: bool | None = None
    ) -> IntegrityCheck | None:
        for check in reversed(self.t.checks):
            if (scope is None or check.scope == scope) and (
                intact is None or check.intact == intact
            ):
                return check
        return None

    async def add_check(self, check: IntegrityCheck) -> None:
        self.t.checks.append(check)

    async def full_scan(self) -> FullScan:
        entries = self.t.entries
        wrong_leaves = [
            s for s, e in sorted(entries.items()) if leaf_hash(e.row.leaf) != e.row.leaf_hash
        ][:20]
        wrong_nodes: list[tuple[int, int]] = []
        for (level, index), value in sorted(self.t.nodes.items()):
            children = (
                [entries.get(2 * index), entries.get(2 * index + 1)]
                if level == 1
                else [
                    self.t.nodes.get((level - 1, 2 * index)),
                    self.t.nodes.get((level - 1, 2 * index + 1)),
                ]
            )
            hashes = [c.row.leaf_hash if isinstance(c, FakeRow) else c for c in children]
            if any(h is None for h in hashes) or node_hash(hashes[0], hashes[1]) != value:  # type: ignore[arg-type]
                wrong_nodes.append((level, index))
        counts: dict[int, int] = {}
        for level, _ in self.t.nodes:
            counts[level] = counts.get(level, 0) + 1
        return FullScan(
            leaf_count=len(entries),
            last_seq=max(entries, default=None),
            leaves_with_wrong_hash=wrong_leaves,
            nodes_with_wrong_hash=wrong_nodes[:20],
            node_counts=counts,
            account_mismatches=self._account_mismatches(),
        )

    def _account_mismatches(self) -> list[str]:
        counted: dict[tuple[str, int, int], dict[str, Any]] = {}

        def note(key: tuple[str, int, int], offset: int, outcome: str) -> None:
            entry = counted.setdefault(key, {"offsets": set(), "outcomes": []})
            entry["offsets"].add(offset)
            entry["outcomes"].append(outcome)

        for e in self.t.entries.values():
            note(
                (e.row.source_topic, e.row.source_partition, e.epoch), e.row.source_offset, "logged"
            )
        for (topic, partition, epoch, offset), (_, reason) in self.t.skipped.items():
            note((topic, partition, epoch), offset, reason)
        mismatches = []
        for key in sorted(set(counted) | set(self.t.accounts)):
            account = self.t.accounts.get(key)
            seen = counted.get(key)
            expected = None
            if seen is not None:
                outcomes = seen["outcomes"]
                expected = PartitionAccount(
                    key[0], key[1], key[2],
                    next_offset=max(seen["offsets"]) + 1,
                    seen=len(seen["offsets"]),
                    logged=outcomes.count("logged"),
                    duplicates=outcomes.count("duplicate"),
                    replays=outcomes.count("replay_for_others"),
                    dead_lettered=outcomes.count("dead_lettered"),
                )  # fmt: skip
            if expected != account:
                mismatches.append(
                    f"the account of {key[0]}[{key[1]}] epoch {key[2]} differs from the log's rows"
                )
        return mismatches


class FakeAuditUnitOfWork(InMemoryUnitOfWork):
    """A unit of work over shared ``LogTables``; an uncommitted block is rolled back."""

    def __init__(self, tables: LogTables) -> None:
        super().__init__(source="urn:mpa:service:audit")
        self.tables = tables
        self._before: LogTables | None = None
        self.log = FakeLogStore(tables)

    def _bind(self) -> None:
        self._before = copy.deepcopy(self.tables)

    def _rollback(self) -> None:
        if self._before is not None:
            before = self._before
            for name in vars(before):
                setattr(self.tables, name, getattr(before, name))


class FakeDatabase:
    """The factory the use cases take (`UnitOfWorkFactory`), over one set of tables."""

    def __init__(self) -> None:
        self.tables = LogTables()
        self.commits = 0

    def __call__(self) -> FakeAuditUnitOfWork:
        database = self

        class Counted(FakeAuditUnitOfWork):
            async def commit(self) -> None:
                database.commits += 1
                await super().commit()

        return Counted(self.tables)
