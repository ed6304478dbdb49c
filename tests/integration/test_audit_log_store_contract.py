"""One contract for the audit log's repository, run against PostgreSQL (`LogStore`) and the
in-memory fake the use-case tests use (`audit_fakes`): what the use cases rely on holds for
both, so a fast test on the fake means the same as one on the database."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from mpa_audit.app.append import append_batch, append_events, observe_event, record_skip
from mpa_audit.app.ports import (
    EventFilter,
    IntegrityCheck,
    StoredCosignature,
    StoredTreeHead,
    UnitOfWorkFactory,
)
from mpa_audit.domain.accounting import Outcome
from mpa_audit.domain.leaf import RecordOrigin
from mpa_audit_verify.compact_range import CompactRange
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason
from tests.integration.audit_support import (
    REPOSITORY,
    create_audit_schema,
    drop_audit_schema,
    runtime_engine,
    uow_factory,
)

sys.path.insert(0, str(REPOSITORY / "services/audit/tests"))
from audit_fakes import FakeDatabase

pytestmark = pytest.mark.integration

TOPIC = "mpa.case.v1"


@pytest.fixture(params=["postgres", "fake"])
async def units(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    if request.param == "fake":
        yield FakeDatabase()
        return
    schema = await create_audit_schema()
    engine = runtime_engine(schema)
    try:
        yield uow_factory(engine)
    finally:
        await engine.dispose()
        await drop_audit_schema(schema)


def event(case_id: uuid.UUID | None = None) -> Envelope:
    return new_envelope(
        CaseClosedV1(
            case_id=case_id or uuid.uuid4(),
            reason=CaseClosureReason.NEEDS_MET,
            actor_id="caseworker:contract",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:intake",
    )


def at(offset: int, partition: int = 0) -> RecordOrigin:
    return RecordOrigin(TOPIC, partition, offset)


async def test_leaves_nodes_and_reads(units: UnitOfWorkFactory) -> None:
    case_id = uuid.uuid4()
    envelopes = [event(case_id if i % 3 == 0 else None) for i in range(11)]
    await append_events(units, [(e, at(i)) for i, e in enumerate(envelopes)])
    async with units() as uow:
        log = uow.log
        assert await log.tree_size() == 11
        rows = [row for batch in [b async for b in log.rows(0, 11, 4)] for row in batch]
        assert [r.seq for r in rows] == list(range(11))
        reference = CompactRange()
        reference.extend(r.leaf_hash for r in rows)
        assert (await log.compact_range(11)).root() == reference.root()
        nodes = await log.nodes_completed(4, 11)
        # Subtrees ending in (4, 11]: leaves 4-5, 6-7, 8-9; 4-7; 0-7.
        assert sorted(nodes) == [(1, 2), (1, 3), (1, 4), (2, 1), (3, 0)]
        assert (await log.get_nodes([(0, 10), (3, 0), (3, 1)])).keys() == {(0, 10), (3, 0)}
        assert [s for s, _ in await log.leaves(3, 6)] == [3, 4, 5]
        entry = await log.entry(7)
        assert entry is not None
        assert entry.leaf == rows[7].leaf
        assert await log.entry(11) is None
        by_case = await log.find_entries(EventFilter(case_id=case_id), after=0, limit=10)
        assert [e.seq for e in by_case] == [3, 6, 9]
        timeline = await log.case_timeline(case_id, limit=10)
        assert [e.seq for e in timeline] == [0, 3, 6, 9]


async def test_an_uncommitted_append_leaves_nothing(units: UnitOfWorkFactory) -> None:
    await append_events(units, [(event(), at(0))])
    async with units() as uow:
        await append_batch(uow.log, [observe_event(event(), at(1))])
    async with units() as uow:
        assert await uow.log.tree_size() == 1
        (account,) = await uow.log.accounts([TOPIC])
        assert account.next_offset == 1


async def test_accounts_epochs_gaps_and_dead_letters(units: UnitOfWorkFactory) -> None:
    first = [event() for _ in range(3)]
    await append_events(units, [(first[0], at(0)), (first[1], at(1)), (first[2], at(4))])
    missing = uuid.uuid4()
    await record_skip(units, at(5), first[0].id, Outcome.DUPLICATE)
    await record_skip(units, at(6), uuid.uuid4(), Outcome.REPLAY_FOR_OTHERS)
    await record_skip(units, at(7), missing, Outcome.DEAD_LETTERED)
    await record_skip(units, at(8), None, Outcome.DEAD_LETTERED)
    await append_events(units, [(event(), at(3))])  # fills half of the gap
    reused = event()
    await append_events(units, [(reused, at(0, partition=1)), (reused, at(1, partition=1))])
    await append_events(units, [(event(), at(0, partition=1))])  # another event at offset 0
    async with units() as uow:
        log = uow.log
        accounts = sorted(await log.accounts([TOPIC]), key=lambda a: (a.partition, a.epoch))
        counts = [
            (a.partition, a.epoch, a.next_offset, a.seen, a.logged, a.duplicates, a.replays,
             a.dead_lettered)
            for a in accounts
        ]  # fmt: skip
        assert counts == [
            (0, 0, 9, 8, 4, 1, 1, 2),
            (1, 0, 2, 2, 1, 1, 0, 0),
            (1, 1, 1, 1, 1, 0, 0, 0),
        ]
        assert await log.open_gaps(accounts[0], 10) == [(2, 2)]
        count, listed = await log.missing_dead_letters(accounts[0], 10)
        assert count == 2
        assert [(d.offset, d.event_id) for d in listed] == [(7, missing), (8, None)]
        records = await log.records_at([(TOPIC, 0, 0, 4, 7)])
        assert {k[3]: v.outcome for k, v in records.items()} == {
            4: Outcome.LOGGED,
            5: Outcome.DUPLICATE,
            6: Outcome.REPLAY_FOR_OTHERS,
            7: Outcome.DEAD_LETTERED,
        }
        assert (await log.full_scan()).account_mismatches == []


async def test_one_batch_of_many_partitions_and_topics(units: UnitOfWorkFactory) -> None:
    """What the audit's single lane hands over: one batch interleaving the records of several
    partitions of several topics (each partition's in offset order), re-reads among them."""
    other = "mpa.referral.v1"
    first = [event() for _ in range(2)]
    await append_events(units, [(first[0], at(0)), (first[1], at(1))])
    batch = [event() for _ in range(6)]
    copy = event()
    async with units() as uow:
        await append_batch(
            uow.log,
            [
                observe_event(batch[0], at(0, partition=3)),
                observe_event(first[1], at(1)),  # partition 0 read again: accounted already
                observe_event(batch[1], RecordOrigin(other, 0, 5)),  # offsets 0-4: a gap
                observe_event(batch[2], at(2)),
                observe_event(batch[3], at(1, partition=3)),
                observe_event(copy, RecordOrigin(other, 0, 6)),
                observe_event(batch[4], at(3)),
                observe_event(copy, at(2, partition=3)),  # in the log already: a duplicate
                observe_event(batch[5], RecordOrigin(other, 1, 0)),
            ],
        )
        await uow.commit()
    async with units() as uow:
        log = uow.log
        assert await log.tree_size() == 9
        leaves = [row for rows in [b async for b in log.rows(0, 9, 9)] for row in rows]
        assert [r.seq for r in leaves] == list(range(9))
        accounts = sorted(
            await log.accounts([TOPIC, other]), key=lambda a: (a.topic, a.partition, a.epoch)
        )
        counts = [
            (a.topic, a.partition, a.next_offset, a.seen, a.logged, a.duplicates) for a in accounts
        ]
        assert counts == [
            (TOPIC, 0, 4, 4, 4, 0),
            (TOPIC, 3, 3, 3, 2, 1),
            (other, 0, 7, 2, 2, 0),
            (other, 1, 1, 1, 1, 0),
        ]
        assert await log.open_gaps(accounts[2], 10) == [(0, 4)]
        assert (await log.full_scan()).account_mismatches == []


async def test_tree_heads_cosignatures_and_checks(units: UnitOfWorkFactory) -> None:
    now = datetime.now(UTC)
    async with units() as uow:
        log = uow.log
        head = StoredTreeHead(4, b"\x01" * 32, now, "note-4")
        assert await log.add_tree_head(head) == head
        assert await log.add_tree_head(StoredTreeHead(4, b"\x02" * 32, now, "other")) == head
        await log.add_tree_head(StoredTreeHead(9, b"\x03" * 32, now, "note-9"))
        await log.add_cosignature(StoredCosignature(4, "w1", "— w1 AAAA\n", now))
        await log.add_cosignature(StoredCosignature(4, "w1", "— w1 AAAA\n", now))  # again
        await log.add_cosignature(StoredCosignature(4, "w1", "— w1 BBBB\n", now))
        await log.add_cosignature(StoredCosignature(9, "w2", "— w2 CCCC\n", now))
        await log.add_check(
            IntegrityCheck(
                "full", now, 0, 9, True, root_hash=b"\x03" * 32, peaks=(b"\x04" * 32,) * 2
            )
        )
        await log.add_check(
            IntegrityCheck("incremental", now, 9, 12, False, findings=(("leaf_hash", "at 10"),))
        )
        await uow.commit()
    async with units() as uow:
        log = uow.log
        assert [h.tree_size for h in await log.latest_tree_heads(5)] == [9, 4]
        assert [h.tree_size for h in await log.tree_heads_between(4, 9)] == [9]
        assert [c.line for c in await log.cosignatures(4)] == ["— w1 AAAA\n", "— w1 BBBB\n"]
        assert (await log.latest_cosigned_size("w1"), await log.latest_cosigned_size("w3")) == (
            4,
            None,
        )
        latest = await log.latest_check()
        assert latest is not None
        assert (latest.scope, latest.intact, latest.findings) == (
            "incremental",
            False,
            (("leaf_hash", "at 10"),),
        )
        intact = await log.latest_check(intact=True)
        assert intact is not None
        assert (intact.tree_size, intact.peaks) == (9, (b"\x04" * 32,) * 2)
        assert await log.latest_check(scope="full", intact=False) is None
