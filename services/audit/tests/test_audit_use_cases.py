"""Every audit use case on the in-memory fakes (`audit_fakes`): appends in batches and their
accounting (duplicates, re-reads, reused offsets, gaps, skip reasons), coverage, queries,
proofs, tree heads and their witnesses, exports, incremental and full integrity checks, the
consumer's handlers, and the api's error mapping. Milliseconds each; no server."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from audit_fakes import FakeDatabase, FakeLogStore
from audit_memory_tree import MemoryTree
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from mpa_audit.adapters.signing import TreeHeadSigner
from mpa_audit.api.errors import install_audit_error_handlers
from mpa_audit.app import coverage as coverage_use_case
from mpa_audit.app import proofs, queries
from mpa_audit.app.append import append_batch, append_events, observe_event, record_skip
from mpa_audit.app.export import export_lines, prepare_export
from mpa_audit.app.integrity import IntegrityChecker
from mpa_audit.app.ports import EventFilter, WitnessAnswer
from mpa_audit.app.tree_heads import TreeHeads
from mpa_audit.domain.accounting import Outcome
from mpa_audit.domain.errors import (
    AuditError,
    EventNotFound,
    InvalidCursor,
    InvalidPreviousTreeSize,
    InvalidRange,
    InvalidTreeSizes,
    LeafNotInTree,
    TreeSizeNotReached,
)
from mpa_audit.domain.leaf import RecordOrigin, leaf_bytes
from mpa_audit.handlers import log_batch_handler, skip_recorder
from mpa_audit_verify.checkpoint import verify_signed_tree_head
from mpa_audit_verify.cosignature import cosigner_key
from mpa_audit_verify.export import verify_export
from mpa_audit_verify.hashing import leaf_hash, node_hash, root_hash
from mpa_audit_verify.note import VerifierKey
from mpa_audit_verify.proofs import verify_consistency, verify_inclusion
from mpa_audit_verify.witness import MemoryWitnessState, Witness, WitnessRefusal
from mpa_common.failures import DependencyUnavailable
from mpa_common.messaging.subscriptions import Delivery, SkipReason
from mpa_common.messaging.subscriptions import RecordOrigin as ConsumedFrom
from mpa_common.problems import install_problem_handlers
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason

TOPIC = "mpa.case.v1"
ORIGIN = "audit.test.example/log"
WITNESS = "witness.test.example/w1"


def event(case_id: uuid.UUID | None = None, *, caused_by: Envelope | None = None) -> Envelope:
    return new_envelope(
        CaseClosedV1(
            case_id=case_id or uuid.uuid4(),
            reason=CaseClosureReason.NEEDS_MET,
            actor_id="caseworker:unit",
            actor_role=ActorRole.CASEWORKER,
        ),
        source="urn:mpa:service:intake",
        caused_by=caused_by,
    )


def at(offset: int, partition: int = 0, topic: str = TOPIC) -> RecordOrigin:
    return RecordOrigin(topic, partition, offset)


async def log_events(
    database: FakeDatabase, count: int, *, start: int = 0, partition: int = 0
) -> list[Envelope]:
    envelopes = [event() for _ in range(count)]
    await append_events(database, [(e, at(start + i, partition)) for i, e in enumerate(envelopes)])
    return envelopes


async def account(database: FakeDatabase, partition: int = 0, epoch: int = 0) -> object:
    return database.tables.accounts[(TOPIC, partition, epoch)]


async def report(
    database: FakeDatabase, ends: dict[tuple[str, int], int] | None = None
) -> list[coverage_use_case.PartitionCoverage]:
    async def end_offsets(topics: Sequence[str]) -> dict[tuple[str, int], int]:
        return ends or {}

    return await coverage_use_case.coverage(database, end_offsets, [TOPIC])


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def signer() -> TreeHeadSigner:
    return TreeHeadSigner(ORIGIN, Ed25519PrivateKey.generate())


# --- appending in batches ---------------------------------------------------------------


async def test_a_batch_appends_contiguous_leaves_and_every_node_in_one_commit(
    database: FakeDatabase,
) -> None:
    envelopes = await log_events(database, 37)
    await log_events(database, 12, start=37)
    tables = database.tables
    assert database.commits == 2
    assert tables.locks_taken == 2
    assert sorted(tables.entries) == list(range(49))
    leaves = [leaf_bytes(e, at(i)) for i, e in enumerate(envelopes)]
    assert [tables.entries[i].row.leaf for i in range(37)] == leaves
    reference = MemoryTree()
    reference.extend(e.row.leaf_hash for _, e in sorted(tables.entries.items()))
    assert reference.get_nodes(list(tables.nodes)) == tables.nodes
    assert len(tables.nodes) == sum(49 >> level for level in range(1, 7))
    assert (await FakeLogStore(tables).compact_range(49)).root() == reference.root()
    first = tables.entries[0].row
    assert (first.event_id, first.source_offset) == (envelopes[0].id, 0)


async def test_events_already_in_the_log_are_duplicates_in_the_same_transaction(
    database: FakeDatabase,
) -> None:
    envelopes = await log_events(database, 3)
    again = event()
    outcome = await append_events(
        database,
        [(envelopes[0], at(3)), (again, at(4)), (again, at(5)), (envelopes[2], at(6))],
    )
    assert (outcome.logged, outcome.duplicates) == (1, 3)
    assert len(database.tables.entries) == 4
    assert database.tables.skipped[(TOPIC, 0, 0, 5)] == (again.id, "duplicate")
    assert await account(database) == replace(
        await account(database), next_offset=7, seen=7, logged=4, duplicates=3
    )


async def test_offsets_read_again_add_nothing(database: FakeDatabase) -> None:
    """A rebalance or a replay under another consumer group reads the same records again."""
    envelopes = await log_events(database, 5)
    before = await account(database)
    outcome = await append_events(database, [(e, at(i)) for i, e in enumerate(envelopes)])
    assert (outcome.logged, outcome.duplicates, outcome.new_epochs) == (0, 0, 0)
    assert await account(database) == before
    assert len(database.tables.skipped) == 0


async def test_a_reused_offset_opens_a_new_epoch_and_loses_nothing(
    database: FakeDatabase,
) -> None:
    """The topic recreated (or the cluster restored): offsets 0.. hold other events."""
    old = await log_events(database, 4)
    new = [event() for _ in range(3)]
    outcome = await append_events(database, [(e, at(i)) for i, e in enumerate(new)])
    assert (outcome.logged, outcome.new_epochs) == (3, 1)
    tables = database.tables
    assert {e.row.event_id for e in tables.entries.values()} == {e.id for e in [*old, *new]}
    assert [tables.entries[s].epoch for s in range(7)] == [0, 0, 0, 0, 1, 1, 1]
    partitions = await report(database, {(TOPIC, 0): 3})
    assert [(p.epoch, p.logged, p.next_offset, p.current, p.lag) for p in partitions] == [
        (0, 4, 4, False, None),
        (1, 3, 3, True, 0),
    ]
    assert all(p.complete for p in partitions)
    # The same new records read once more: the new epoch holds them, nothing changes.
    again = await append_events(database, [(e, at(i)) for i, e in enumerate(new)])
    assert (again.logged, again.new_epochs) == (0, 0)
    # An old event republished into the new incarnation is a duplicate, not a crash.
    republished = await append_events(database, [(old[0], at(3))])
    assert (republished.logged, republished.duplicates) == (0, 1)


async def test_a_gap_is_missing_until_its_offsets_are_read(database: FakeDatabase) -> None:
    envelopes = [event() for _ in range(8)]
    await append_events(database, [(envelopes[i], at(i)) for i in (0, 1, 5, 6)])
    (partition,) = await report(database, {(TOPIC, 0): 7})
    assert (partition.gaps, partition.complete, partition.lag) == ([(2, 4)], False, 0)
    await append_events(database, [(envelopes[3], at(3))])
    (partition,) = await report(database, {(TOPIC, 0): 7})
    assert partition.gaps == [(2, 2), (4, 4)]
    await append_events(database, [(envelopes[2], at(2)), (envelopes[4], at(4))])
    (partition,) = await report(database, {(TOPIC, 0): 7})
    assert (partition.gaps, partition.complete) == ([], True)


async def test_skip_reasons_duplicates_and_replays_are_accounted_dead_letters_are_not(
    database: FakeDatabase,
) -> None:
    logged = await log_events(database, 2)
    failed = event()
    await record_skip(database, at(2), logged[0].id, Outcome.DUPLICATE)
    await record_skip(database, at(3), logged[1].id, Outcome.REPLAY_FOR_OTHERS)
    await record_skip(database, at(4), failed.id, Outcome.DEAD_LETTERED)
    await record_skip(database, at(5), None, Outcome.DEAD_LETTERED)
    (partition,) = await report(database, {(TOPIC, 0): 6})
    assert (partition.duplicates, partition.replays, partition.dead_lettered) == (1, 1, 2)
    assert partition.missing_count == 2
    assert [(m.offset, m.event_id) for m in partition.missing] == [(4, failed.id), (5, None)]
    assert not partition.complete
    assert partition.lag == 0
    # `mpa dlq replay` re-delivers the failed event at a new offset: it is in the log now.
    await append_events(database, [(failed, at(6))])
    (partition,) = await report(database, {(TOPIC, 0): 7})
    assert [(m.offset, m.event_id) for m in partition.missing] == [(5, None)]
    # The undecodable record, read again at its offset and decoded by newer contracts.
    decoded = event()
    outcome = await append_events(database, [(decoded, at(5))])
    assert outcome.logged == 1
    (partition,) = await report(database, {(TOPIC, 0): 7})
    assert (partition.missing_count, partition.complete) == (0, True)
    # A dead letter of an event logged already is accounted from the start.
    await record_skip(database, at(7), logged[0].id, Outcome.DEAD_LETTERED)
    (partition,) = await report(database, {(TOPIC, 0): 8})
    assert partition.complete


async def test_a_skip_at_a_reused_offset_opens_a_new_epoch(database: FakeDatabase) -> None:
    await log_events(database, 2)
    await record_skip(database, at(0), uuid.uuid4(), Outcome.DEAD_LETTERED)
    assert (TOPIC, 0, 1) in database.tables.accounts


async def test_a_failed_batch_leaves_nothing_behind(database: FakeDatabase) -> None:
    await log_events(database, 3)

    async def fails() -> None:
        async with database() as uow:
            await append_batch(uow.log, [observe_event(event(), at(3))])
            raise RuntimeError("the consumer's transaction rolls back")

    with pytest.raises(RuntimeError):
        await fails()
    assert len(database.tables.entries) == 3
    assert (await account(database)).next_offset == 3  # type: ignore[attr-defined]


async def test_the_handlers_append_batches_and_record_skips(database: FakeDatabase) -> None:
    handler = log_batch_handler(lambda uow: uow.log)  # type: ignore[attr-defined]
    envelopes = [event() for _ in range(4)]
    deliveries = [
        Delivery(e, ConsumedFrom(TOPIC, 1, 10 + i, 1_700_000_000_000))
        for i, e in enumerate(envelopes)
    ]
    async with database() as uow:
        await handler(uow, deliveries)  # type: ignore[arg-type]
        await uow.commit()
    assert [e.row.source_offset for e in database.tables.entries.values()] == [10, 11, 12, 13]
    recorder = skip_recorder(database)
    await recorder(ConsumedFrom(TOPIC, 1, 14, 0), envelopes[0].id, SkipReason.DUPLICATE)
    await recorder(ConsumedFrom(TOPIC, 1, 15, 0), uuid.uuid4(), SkipReason.REPLAY_FOR_OTHERS)
    await recorder(ConsumedFrom(TOPIC, 1, 16, 0), uuid.uuid4(), SkipReason.DEAD_LETTERED)
    reasons = [reason for (_, _, _, o), (_, reason) in sorted(database.tables.skipped.items())]
    assert reasons == ["duplicate", "replay_for_others", "dead_lettered"]
    (partition,) = await report(database)
    assert (partition.gaps, partition.missing_count) == ([(0, 9)], 1)


# --- coverage ---------------------------------------------------------------------------


async def test_coverage_lists_kafka_partitions_not_read_yet_and_lag(database: FakeDatabase) -> None:
    await log_events(database, 3, partition=2)
    partitions = await report(database, {(TOPIC, 0): 5, (TOPIC, 2): 7})
    assert [(p.partition, p.logged, p.next_offset, p.lag, p.complete) for p in partitions] == [
        (0, 0, 0, 5, True),
        (2, 3, 3, 4, True),
    ]


# --- queries ----------------------------------------------------------------------------


async def test_events_filtered_and_paged_by_cursor(database: FakeDatabase) -> None:
    case_id = uuid.uuid4()
    story = event(case_id)
    follow = event(caused_by=story)
    others = [event() for _ in range(5)]
    await append_events(database, [(e, at(i)) for i, e in enumerate([story, *others, follow])])
    page = await queries.find_events(database, EventFilter(), cursor=None, limit=4)
    assert [e.seq for e in page.entries] == [0, 1, 2, 3]
    rest = await queries.find_events(database, EventFilter(), cursor=page.next_cursor, limit=4)
    assert ([e.seq for e in rest.entries], rest.next_cursor) == ([4, 5, 6], None)
    by_story = await queries.find_events(
        database, EventFilter(correlation_id=story.correlation_id), cursor=None, limit=10
    )
    assert [e.seq for e in by_story.entries] == [0, 6]
    timeline = await queries.case_timeline(database, case_id, limit=10)
    assert [e.seq for e in timeline] == [0, 6]
    assert (await queries.get_event(database, 3)).seq == 3
    for cursor in ("x", "-1", "١٢", str(2**63)):
        with pytest.raises(InvalidCursor):
            await queries.find_events(database, EventFilter(), cursor=cursor, limit=1)
    for seq in (99, -1, 2**63):
        with pytest.raises(EventNotFound):
            await queries.get_event(database, seq)


# --- proofs -----------------------------------------------------------------------------


async def test_proofs_verify_against_an_independent_root(database: FakeDatabase) -> None:
    await log_events(database, 21)
    hashes = [database.tables.entries[s].row.leaf_hash for s in range(21)]
    for size in (1, 8, 13, 21):
        root = root_hash(hashes[:size])
        for seq in (0, size // 2, size - 1):
            proof = await proofs.inclusion_proof(database, seq, size)
            assert proof.root_hash == root
            verify_inclusion(seq, size, hashes[seq], proof.audit_path, root)
        consistency = await proofs.consistency_proof(database, max(1, size // 3), size)
        verify_consistency(
            consistency.first, size, consistency.first_root_hash, root, consistency.proof
        )
    current = await proofs.inclusion_proof(database, 4, None)
    assert current.tree_size == 21
    with pytest.raises(LeafNotInTree):
        await proofs.inclusion_proof(database, 21, 21)
    with pytest.raises(TreeSizeNotReached):
        await proofs.inclusion_proof(database, 0, 22)
    with pytest.raises(InvalidTreeSizes):
        await proofs.consistency_proof(database, 0, 5)
    with pytest.raises(TreeSizeNotReached):
        await proofs.consistency_proof(database, 1, 10**6)


# --- tree heads and witnesses ------------------------------------------------------------


class LocalWitness:
    """The real witness core (`mpa_audit_verify.witness`) behind the use cases' port."""

    def __init__(self, logs: dict[str, VerifierKey]) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.core = Witness(WITNESS, self.private_key, logs, MemoryWitnessState())
        self.requests = 0
        self.down = False

    @property
    def key(self) -> VerifierKey:
        return cosigner_key(self.private_key, WITNESS)

    async def add_checkpoint(
        self, old_size: int, proof: Sequence[bytes], checkpoint: str
    ) -> WitnessAnswer:
        from mpa_audit_verify.witness import AddCheckpointRequest

        if self.down:
            raise DependencyUnavailable("witness", "connection refused")
        self.requests += 1
        body = AddCheckpointRequest(old_size, tuple(proof), checkpoint).encode()
        try:
            return WitnessAnswer(200, cosignatures=self.core.add_checkpoint(body))
        except WitnessRefusal as refused:
            size = int(refused.body) if refused.status == 409 else None
            return WitnessAnswer(refused.status, latest_size=size, reason=refused.reason)

    async def latest_checkpoint(self, origin: str) -> str | None:
        if self.down:
            raise DependencyUnavailable("witness", "connection refused")
        return self.core.latest(origin)


@pytest.fixture
def witness(signer: TreeHeadSigner) -> LocalWitness:
    return LocalWitness({ORIGIN: signer.public})


async def test_a_size_is_signed_once_and_witnessed(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    heads = TreeHeads(database, signer, [witness])
    await log_events(database, 9)
    head = await heads.at()
    assert head.tree_size == 9
    assert [c.witness for c in head.cosignatures] == [WITNESS]
    assert (await heads.at(9)).checkpoint == head.checkpoint
    verified = verify_signed_tree_head(head.checkpoint, signer.public.public_key, ORIGIN)
    assert verified.root_hash == (await FakeLogStore(database.tables).compact_range(9)).root()
    assert await heads.sign_if_grown() is None
    await log_events(database, 4, start=9)
    grown = await heads.sign_if_grown()
    assert grown is not None
    assert (grown.tree_size, len(grown.cosignatures)) == (13, 1)
    assert witness.requests == 2
    with pytest.raises(TreeSizeNotReached):
        await heads.at(14)


async def test_an_unreachable_witness_is_asked_again_later(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    heads = TreeHeads(database, signer, [witness])
    await log_events(database, 3)
    witness.down = True
    assert (await heads.at()).cosignatures == ()
    witness.down = False
    again = await heads.sign_if_grown()
    assert again is not None
    assert [c.witness for c in again.cosignatures] == [WITNESS]


async def test_a_witness_ahead_of_the_logs_record_is_caught_up_with_a_proof(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    """The log lost its cosignature rows (or another replica asked): the witness's 409 tells
    its size, and the retry carries a consistency proof from there."""
    heads = TreeHeads(database, signer, [witness])
    await log_events(database, 5)
    await heads.at()
    database.tables.cosignatures.clear()
    await log_events(database, 6, start=5)
    head = await heads.at()
    assert [c.witness for c in head.cosignatures] == [WITNESS]
    assert heads.last_outcomes[WITNESS].cosigned


async def test_a_rewritten_history_gets_no_cosignature_and_integrity_names_it(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    heads = TreeHeads(database, signer, [witness])
    checker = IntegrityChecker(database, signer.public, ORIGIN, [witness])
    await log_events(database, 8)
    await heads.at()
    assert (await checker.incremental()).intact
    # A superuser rewrites leaf 3 (and every hash above it), deletes the tree heads.
    tables = database.tables
    row = tables.entries[3].row
    forged = row.leaf.replace(b"needs_met", b"duplicate")
    tables.entries[3].row = replace(row, leaf=forged, leaf_hash=leaf_hash(forged))
    rebuilt = MemoryTree()
    rebuilt.extend(tables.entries[s].row.leaf_hash for s in range(8))
    tables.nodes = rebuilt.get_nodes(list(tables.nodes))
    tables.tree_heads.clear()
    tables.cosignatures.clear()
    tables.checks.clear()
    # The service signs the fork; the witness refuses it.
    fork = await heads.at()
    assert fork.cosignatures == ()
    assert heads.last_outcomes[WITNESS].status == 422
    assert len(witness.core._state.refusals) == 1  # type: ignore[attr-defined]
    report = await checker.incremental()
    assert {f.check for f in report.findings} == {"witness_checkpoint"}
    assert "rewritten after it was witnessed" in report.findings[0].detail
    full = await checker.full()
    assert {f.check for f in full.findings} == {"witness_checkpoint"}


async def test_a_replaced_tree_head_does_not_inherit_the_old_cosignature(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    """The tree heads deleted, the cosignature rows left: the old cosignature does not verify
    on the fork signed for the same size, so it is neither served nor counted, the witness is
    asked (and refuses), and the integrity check names the replaced head."""
    heads = TreeHeads(database, signer, [witness])
    checker = IntegrityChecker(database, signer.public, ORIGIN, [witness])
    await log_events(database, 6)
    await heads.at()
    tables = database.tables
    row = tables.entries[1].row
    forged = row.leaf.replace(b"needs_met", b"duplicate")
    tables.entries[1].row = replace(row, leaf=forged, leaf_hash=leaf_hash(forged))
    rebuilt = MemoryTree()
    rebuilt.extend(tables.entries[s].row.leaf_hash for s in range(6))
    tables.nodes = rebuilt.get_nodes(list(tables.nodes))
    tables.tree_heads.clear()
    fork = await heads.at()
    assert fork.cosignatures == ()
    assert heads.last_outcomes[WITNESS].status == 422
    checks = {f.check for f in (await checker.full()).findings}
    assert {"tree_head_cosignature", "witness_checkpoint"} <= checks


async def test_a_tree_head_signed_again_for_the_same_root_is_cosigned_again(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    heads = TreeHeads(database, signer, [witness])
    await log_events(database, 4)
    await heads.at()
    database.tables.tree_heads.clear()  # same leaves: the new head has the same root
    again = await heads.at()
    assert [c.witness for c in again.cosignatures] == [WITNESS]
    assert len(database.tables.cosignatures) == 2


# --- exports ----------------------------------------------------------------------------


async def test_exports_verify_offline_with_the_witness_key(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    heads = TreeHeads(database, signer, [witness])
    await log_events(database, 11)
    header = await prepare_export(database, heads, start=0, tree_size=None, previous_tree_size=None)
    lines = [line async for line in export_lines(database, header)]
    export = b"".join(lines).splitlines(keepends=True)
    result = verify_export(export, signer.public, witnesses=[witness.key])
    assert (result.leaves, [c.witness for c in result.cosignatures]) == (11, [WITNESS])
    tail = await prepare_export(database, heads, start=6, tree_size=11, previous_tree_size=4)
    assert tail.consistency is not None
    with pytest.raises(InvalidRange):
        await prepare_export(database, heads, start=12, tree_size=11, previous_tree_size=None)
    with pytest.raises(InvalidPreviousTreeSize):
        await prepare_export(database, heads, start=0, tree_size=11, previous_tree_size=12)


# --- integrity --------------------------------------------------------------------------


async def test_the_incremental_check_verifies_only_what_was_added(
    database: FakeDatabase, signer: TreeHeadSigner
) -> None:
    heads = TreeHeads(database, signer)
    checker = IntegrityChecker(database, signer.public, ORIGIN)
    await log_events(database, 10)
    await heads.at()
    first = await checker.incremental()
    assert (first.intact, first.from_size, first.leaves_checked) == (True, 0, 10)
    await log_events(database, 7, start=10)
    await heads.at()
    second = await checker.incremental()
    assert (second.intact, second.from_size, second.leaves_checked) == (True, 10, 7)
    assert second.nodes_checked == sum((17 >> level) - (10 >> level) for level in range(1, 6))
    assert [c.tree_size for c in database.tables.checks] == [10, 17]
    # Nothing new: nothing to verify, nothing recorded.
    third = await checker.incremental()
    assert (third.intact, third.leaves_checked) == (True, 0)
    assert len(database.tables.checks) == 2


async def test_the_incremental_check_finds_tampering_with_new_leaves_and_verified_nodes(
    database: FakeDatabase, signer: TreeHeadSigner
) -> None:
    heads = TreeHeads(database, signer)
    checker = IntegrityChecker(database, signer.public, ORIGIN)
    await log_events(database, 8)
    await checker.incremental()
    await log_events(database, 5, start=8)
    await heads.at()
    tables = database.tables
    row = tables.entries[10].row
    tables.entries[10].row = replace(row, leaf=row.leaf.replace(b"needs_met", b"duplicate"))
    found = await checker.incremental()
    assert {f.check for f in found.findings} >= {"leaf_hash", "node_hash", "tree_head_root"}
    tables.entries[10].row = row
    tables.nodes[(3, 0)] = node_hash(b"\x00" * 32, b"\x01" * 32)
    found = await checker.incremental()
    assert "verified_nodes" in {f.check for f in found.findings}
    # Not recorded as intact: the next check starts where the last intact one ended.
    assert [c.tree_size for c in tables.checks] == [8]


async def test_the_full_check_finds_old_rows_and_its_findings_stay_reported(
    database: FakeDatabase, signer: TreeHeadSigner
) -> None:
    heads = TreeHeads(database, signer)
    checker = IntegrityChecker(database, signer.public, ORIGIN)
    await log_events(database, 12)
    await heads.at()
    assert (await checker.incremental()).intact
    tables = database.tables
    row = tables.entries[2].row
    tables.entries[2].row = replace(row, actor_id="caseworker:someone-else")
    assert (await checker.incremental()).intact  # below what it verified before
    full = await checker.full()
    assert {f.check for f in full.findings} == {"indexed_columns"}
    later = await checker.incremental()
    assert not later.findings
    assert not later.intact  # the last full check's findings still stand
    tables.accounts[(TOPIC, 0, 0)] = replace(tables.accounts[(TOPIC, 0, 0)], logged=99)
    assert "accounts" in {f.check for f in (await checker.full()).findings}


async def test_signed_tree_heads_are_checked_against_stored_nodes(
    database: FakeDatabase, signer: TreeHeadSigner
) -> None:
    heads = TreeHeads(database, signer)
    checker = IntegrityChecker(database, signer.public, ORIGIN)
    await log_events(database, 6)
    await heads.at()
    database.tables.nodes[(1, 2)] = b"\x07" * 32
    findings = {f.check for f in (await checker.full()).findings}
    assert {"node_hash", "tree_head_root"} <= findings
    other = TreeHeadSigner(ORIGIN, Ed25519PrivateKey.generate())
    stranger = IntegrityChecker(database, other.public, ORIGIN)
    assert "tree_head_signature" in {f.check for f in (await stranger.incremental()).findings}


async def test_integrity_warns_about_an_unreachable_witness(
    database: FakeDatabase, signer: TreeHeadSigner, witness: LocalWitness
) -> None:
    checker = IntegrityChecker(database, signer.public, ORIGIN, [witness])
    await log_events(database, 2)
    report = await checker.incremental()
    assert report.intact
    assert report.warnings == [f"witness {WITNESS} has cosigned nothing of this log yet"]
    witness.down = True
    report = await checker.incremental()
    assert report.intact
    assert "unreachable" in report.warnings[0]


# --- the api's error mapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TreeSizeNotReached(5, 4), 422),
        (LeafNotInTree(4, 4), 422),
        (InvalidTreeSizes(0, 3), 422),
        (InvalidRange(5, 4), 422),
        (InvalidPreviousTreeSize(9, 4), 422),
        (InvalidCursor(), 422),
        (EventNotFound(7), 404),
        (DependencyUnavailable("kafka", "ConnectionRefusedError"), 503),
    ],
)
async def test_domain_errors_answer_problem_json(error: Exception, status: int) -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_audit_error_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/fails")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if isinstance(error, AuditError):
        assert body["detail"] == str(error)
    else:
        assert response.headers["retry-after"]


def test_every_domain_error_has_a_status() -> None:
    from mpa_audit.api.errors import _STATUS_AND_TITLE

    assert set(_STATUS_AND_TITLE) == set(AuditError.__subclasses__())


async def test_observations_are_timed_as_their_batch(database: FakeDatabase) -> None:
    """Logged rows keep the event's own time, not the append's."""
    envelope = event()
    await append_events(database, [(envelope, at(0))])
    row = database.tables.entries[0].row
    assert row.event_time == envelope.time
    assert datetime.now(UTC) - database.tables.entries[0].logged_at < timedelta(seconds=5)
