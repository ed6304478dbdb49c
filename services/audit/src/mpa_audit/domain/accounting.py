"""Appending a batch of consumed offsets to the log, and accounting for every offset: pure.

Each consumed Kafka offset is an *observation*: an event to log (its leaf), or an offset the
consumer reports as adding no leaf (a duplicate, a replay addressed to another consumer
group, a dead letter). ``plan_batch`` turns the observations of a batch, and what the log
holds already (``AppendState``), into exactly what to insert: new leaves with their seqs and
hashes, the tree nodes they complete, skipped-offset rows, the partitions' new running
accounts, and gaps. Leaves are unique by event id: an event the log holds already, read again
at another offset, is accounted as a duplicate.

**Epochs: offsets reused.** A topic deleted and recreated, or a cluster restored from a
backup, hands out offsets again that the log has accounted for already. Kafka's topic ids
would tell the incarnations apart, but aiokafka (0.14) speaks no Metadata version that
carries them, and a record does not carry its topic's id anyway. So reuse is detected by what
the log stored at that offset: an offset seen before with a *different* event id starts a new
epoch of the partition (an offset whose record was undecodable has no id to compare, and is
taken as the same record: read again, perhaps decoded by newer contracts). Accounting is per (topic,
partition, epoch): the new epoch starts empty, its offsets are accounted again, and a restore
that re-reads identical records before diverging shows the identical part as a gap of the
new epoch until it is re-read (honest: those offsets were not accounted in this incarnation).
An event of the reused offset that is in the log already stays a duplicate: nothing is lost,
nothing crashes.

**Coverage.** An account is complete when every offset below ``next_offset`` was seen
(``seen == next_offset``, gaps are recorded when they open) and every dead-lettered event is
in the log after all (e.g. after ``mpa dlq replay`` re-delivered it at a new offset). A dead
letter is never accounted by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from mpa_audit.domain.leaf import LeafSummary, RecordOrigin
from mpa_audit_verify.compact_range import CompactRange, Node
from mpa_audit_verify.hashing import leaf_hash


class Outcome(StrEnum):
    """What a consumed offset became; all but LOGGED are `skipped_offsets.reason`s."""

    LOGGED = "logged"
    DUPLICATE = "duplicate"  # the event is in the log already
    REPLAY_FOR_OTHERS = "replay_for_others"  # a dead-letter replay for another group
    DEAD_LETTERED = "dead_lettered"  # not logged: in the dead-letter topic


SKIPPED = (Outcome.DUPLICATE, Outcome.REPLAY_FOR_OTHERS, Outcome.DEAD_LETTERED)

# The members as plain names for the per-offset loop: an enum member read through its class
# costs a descriptor call on Python 3.11 (a tenth of a microsecond, several per offset).
_LOGGED, _DUPLICATE, _REPLAY, _DEAD_LETTERED = (
    Outcome.LOGGED, Outcome.DUPLICATE, Outcome.REPLAY_FOR_OTHERS, Outcome.DEAD_LETTERED,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Observation:
    """One consumed offset: an event to log (``leaf`` and ``summary`` given), or an offset
    that added no leaf (``skipped``)."""

    origin: RecordOrigin
    event_id: UUID | None
    leaf: bytes | None = None
    summary: LeafSummary | None = None
    skipped: Outcome | None = None

    def __post_init__(self) -> None:
        if (self.leaf is None) == (self.skipped is None):
            raise ValueError("an observation is a leaf or a skipped offset")
        if self.leaf is not None and (self.summary is None or self.event_id is None):
            raise ValueError("a leaf needs its summary and event id")
        if self.skipped is not None and self.skipped not in SKIPPED:
            raise ValueError(f"{self.skipped} is not a reason to skip an offset")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """What the log holds at one offset of one epoch."""

    event_id: UUID | None
    outcome: Outcome


PartitionKey = tuple[str, int]
OriginKey = tuple[str, int, int, int]
"""(topic, partition, epoch, offset)."""


@dataclass(frozen=True, slots=True)
class PartitionAccount:
    """The running account of one (topic, partition, epoch): offsets seen and what they were."""

    topic: str
    partition: int
    epoch: int = 0
    next_offset: int = 0
    seen: int = 0
    logged: int = 0
    duplicates: int = 0
    replays: int = 0
    dead_lettered: int = 0

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)

    @property
    def gap_count(self) -> int:
        """Offsets below next_offset never seen (each gap is recorded when it opens)."""
        return self.next_offset - self.seen


@dataclass(frozen=True, slots=True)
class AppendState:
    """What the log holds that a batch depends on (read under the append lock)."""

    tree_size: int
    peaks: tuple[bytes, ...]
    logged_event_ids: frozenset[UUID]
    """Of the batch's event ids, those in the log already."""
    partitions: Mapping[PartitionKey, PartitionAccount]
    """The current (highest) epoch's account of each of the batch's partitions."""
    records: Mapping[OriginKey, StoredRecord]
    """What is stored at the offsets the batch re-reads (below an account's next_offset)."""


@dataclass(frozen=True, slots=True)
class NewLeaf:
    seq: int
    leaf: bytes
    leaf_hash: bytes
    summary: LeafSummary
    epoch: int


@dataclass(frozen=True, slots=True)
class SkippedOffset:
    origin: RecordOrigin
    epoch: int
    event_id: UUID | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets [first, last] of an epoch that were passed over when they were due."""

    topic: str
    partition: int
    epoch: int
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """Everything one batch inserts, in one transaction."""

    tree_size: int
    leaves: tuple[NewLeaf, ...]
    nodes: tuple[Node, ...]
    """Interior nodes (level >= 1) the new leaves complete; level 0 is the leaves' hash."""
    skipped: tuple[SkippedOffset, ...]
    partitions: tuple[PartitionAccount, ...]
    """The new values of every account the batch changed."""
    gaps: tuple[Gap, ...]
    new_epochs: tuple[PartitionAccount, ...]
    """Accounts opened because an offset was reused (what to log a warning about)."""

    @property
    def empty(self) -> bool:
        return not (self.leaves or self.skipped or self.partitions)

    def count(self, outcome: Outcome) -> int:
        if outcome is Outcome.LOGGED:
            return len(self.leaves)
        return sum(1 for skipped in self.skipped if skipped.outcome is outcome)


def rereads(
    partitions: Mapping[PartitionKey, PartitionAccount], observations: Iterable[Observation]
) -> list[tuple[str, int, int, int, int]]:
    """(topic, partition, epoch, first, last) ranges of offsets the batch reads again (below
    their account's next_offset): what the log holds there decides duplicate or reuse."""
    ranges: dict[PartitionKey, tuple[int, int]] = {}
    for observation in observations:
        origin = observation.origin
        key = (origin.topic, origin.partition)
        account = partitions.get(key)
        if account is None or origin.offset >= account.next_offset:
            continue
        first, last = ranges.get(key, (origin.offset, origin.offset))
        ranges[key] = (min(first, origin.offset), max(last, origin.offset))
    return [
        (topic, partition, partitions[(topic, partition)].epoch, first, last)
        for (topic, partition), (first, last) in ranges.items()
    ]


class _Running:
    """A partition's account while a batch is planned (mutable: one per partition and
    epoch, frozen into a PartitionAccount at the end)."""

    __slots__ = ("dead_lettered", "duplicates", "epoch", "logged", "next_offset", "partition",
                 "replays", "seen", "topic")  # fmt: skip

    def __init__(self, account: PartitionAccount) -> None:
        self.topic = account.topic
        self.partition = account.partition
        self.epoch = account.epoch
        self.next_offset = account.next_offset
        self.seen = account.seen
        self.logged = account.logged
        self.duplicates = account.duplicates
        self.replays = account.replays
        self.dead_lettered = account.dead_lettered

    def frozen(self) -> PartitionAccount:
        return PartitionAccount(
            self.topic, self.partition, self.epoch, self.next_offset, self.seen, self.logged,
            self.duplicates, self.replays, self.dead_lettered,
        )  # fmt: skip

    def count(self, outcome: Outcome) -> None:
        if outcome is _LOGGED:
            self.logged += 1
        elif outcome is _DUPLICATE:
            self.duplicates += 1
        elif outcome is _REPLAY:
            self.replays += 1
        else:
            self.dead_lettered += 1


def plan_batch(state: AppendState, observations: Sequence[Observation]) -> BatchWrite:
    """What to insert for ``observations`` (in the order consumed) given ``state``."""
    compact = CompactRange.from_peaks(state.tree_size, state.peaks)
    running: dict[PartitionKey, _Running] = {
        key: _Running(account) for key, account in state.partitions.items()
    }
    changed: dict[tuple[str, int, int], _Running] = {}
    logged = set(state.logged_event_ids)
    written: dict[OriginKey, StoredRecord] = {}
    leaves: list[NewLeaf] = []
    nodes: list[Node] = []
    skipped: list[SkippedOffset] = []
    gaps: list[Gap] = []
    new_epochs: list[PartitionAccount] = []

    for observation in observations:
        origin = observation.origin
        offset = origin.offset
        key = (origin.topic, origin.partition)
        account = running.get(key)
        if account is None:
            account = running[key] = _Running(PartitionAccount(origin.topic, origin.partition))
        where = (origin.topic, origin.partition, account.epoch, offset)
        stored = written.get(where) or (
            state.records.get(where) if offset < account.next_offset else None
        )
        if stored is not None:
            if _same_record(stored, observation):
                # Read again (a rebalance, a replay under another group): accounted already.
                # Only an undecodable dead letter that now decodes adds its leaf.
                if not (
                    stored.outcome is _DEAD_LETTERED
                    and stored.event_id is None
                    and observation.leaf is not None
                    and observation.event_id not in logged
                ):
                    continue
            else:
                opened = PartitionAccount(origin.topic, origin.partition, account.epoch + 1)
                new_epochs.append(opened)
                account = running[key] = _Running(opened)
                where = (origin.topic, origin.partition, account.epoch, offset)
                stored = None
        if stored is None:
            if offset > account.next_offset:
                gaps.append(
                    Gap(origin.topic, origin.partition, account.epoch, account.next_offset,
                        offset - 1)
                )  # fmt: skip
            account.seen += 1
            if offset >= account.next_offset:
                account.next_offset = offset + 1
        outcome = _outcome(observation, logged)
        if outcome is _LOGGED:
            leaf = observation.leaf
            summary = observation.summary
            assert leaf is not None
            assert summary is not None
            hashed = leaf_hash(leaf)
            completed = compact.append(hashed)
            if len(completed) > 1:
                nodes.extend(completed[1:])
            leaves.append(NewLeaf(completed[0].index, leaf, hashed, summary, account.epoch))
            logged.add(summary.event_id)
        else:
            skipped.append(SkippedOffset(origin, account.epoch, observation.event_id, outcome))
        account.count(outcome)
        written[where] = StoredRecord(observation.event_id, outcome)
        changed[(account.topic, account.partition, account.epoch)] = account

    return BatchWrite(
        tree_size=compact.size,
        leaves=tuple(leaves),
        nodes=tuple(nodes),
        skipped=tuple(skipped),
        partitions=tuple(account.frozen() for account in changed.values()),
        gaps=tuple(gaps),
        new_epochs=tuple(new_epochs),
    )


def _same_record(stored: StoredRecord, observation: Observation) -> bool:
    if stored.event_id is None or observation.event_id is None:
        # An undecodable record has no id to compare: the same offset is taken as the same
        # record (read again, or decoded by newer contracts), never as a reuse.
        return True
    return stored.event_id == observation.event_id


def _outcome(observation: Observation, logged: set[UUID]) -> Outcome:
    if observation.skipped is not None:
        return observation.skipped
    return _DUPLICATE if observation.event_id in logged else _LOGGED
