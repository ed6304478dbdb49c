"""Use case: re-check the stored log against its hashes and signed tree heads.

Finds what the database's protections cannot stop: a row changed or removed by a superuser
(or the owner with triggers disabled). Checks: leaves are contiguous; each leaf hash is the
hash of its leaf; each interior node is the hash of its children and every node that should
exist does; the indexed columns say what the leaf says; the latest signed tree heads verify
with the service's key and their roots equal the roots recomputed from the stored nodes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters import integrity_queries as queries
from mpa_audit.adapters.log_store import LogStore
from mpa_audit.adapters.signing import TreeHeadSigner
from mpa_audit.domain.leaf import summarize_leaf
from mpa_audit.domain.proof_plans import MissingNodeError
from mpa_audit_verify.checkpoint import verify_signed_tree_head
from mpa_audit_verify.note import CheckpointError

TREE_HEADS_CHECKED = 20


@dataclass(frozen=True, slots=True)
class IntegrityFinding:
    check: str
    detail: str


@dataclass
class IntegrityReport:
    tree_size: int
    leaves_checked: int = 0
    nodes_checked: int = 0
    tree_heads_checked: int = 0
    seconds: float = 0.0
    findings: list[IntegrityFinding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def find(self, check: str, detail: str) -> None:
        self.findings.append(IntegrityFinding(check, detail))


async def check_integrity(
    sessions: async_sessionmaker[AsyncSession], signer: TreeHeadSigner
) -> IntegrityReport:
    started = time.perf_counter()
    async with sessions() as session:
        # One snapshot for every check, while appends go on.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        count, last = await queries.leaf_count_and_last_seq(session)
        size = 0 if last is None else last + 1
        report = IntegrityReport(tree_size=size, leaves_checked=count)
        if count != size:
            report.find("contiguity", f"{size - count} of seqs 0..{size - 1} are missing")
        if bad := await queries.leaves_with_wrong_hash(session):
            report.find("leaf_hash", f"leaf hash differs from SHA-256(0x00 || leaf) at seqs {bad}")
        if bad_nodes := await queries.nodes_with_wrong_hash(session):
            report.find(
                "node_hash", f"nodes (level, index) not the hash of their children: {bad_nodes}"
            )
        counts = await queries.node_counts(session)
        report.nodes_checked = sum(counts.values())
        for level in range(1, max([size.bit_length(), *counts]) + 1):
            expected, stored = size >> level, counts.get(level, 0)
            if stored != expected:
                report.find(
                    "node_count", f"level {level} holds {stored} nodes, expected {expected}"
                )
        mismatched: list[int] = []
        async for row in queries.indexed_columns(session):
            if not _columns_match(row) and len(mismatched) < queries.SAMPLE:
                mismatched.append(row.seq)
        if mismatched:
            report.find("indexed_columns", f"columns disagree with the leaf at seqs {mismatched}")
        await _check_tree_heads(LogStore(session), signer, size, report)
    report.seconds = time.perf_counter() - started
    return report


def _columns_match(row: queries.IndexedColumns) -> bool:
    try:
        summary = summarize_leaf(row.leaf)
    except (ValueError, KeyError, TypeError):
        return False
    return (
        summary.event_id == row.event_id
        and summary.event_type == row.event_type
        and summary.event_time == row.event_time
        and summary.correlation_id == row.correlation_id
        and summary.case_id == row.case_id
        and summary.actor_id == row.actor_id
        and summary.origin.topic == row.source_topic
        and summary.origin.partition == row.source_partition
        and summary.origin.offset == row.source_offset
    )


async def _check_tree_heads(
    store: LogStore, signer: TreeHeadSigner, size: int, report: IntegrityReport
) -> None:
    for stored in await store.latest_tree_heads(TREE_HEADS_CHECKED):
        report.tree_heads_checked += 1
        where = f"tree head of size {stored.tree_size}"
        try:
            head = verify_signed_tree_head(
                stored.checkpoint, signer.public.public_key, signer.key_name, origin=signer.origin
            )
        except CheckpointError as error:
            report.find("tree_head_signature", f"{where}: {error}")
            continue
        if head.tree_size != stored.tree_size or head.root_hash != stored.root_hash:
            report.find("tree_head_row", f"{where}: columns differ from the signed checkpoint")
        if stored.tree_size > size:
            report.find("tree_head_size", f"{where} is larger than the log ({size} leaves)")
            continue
        try:
            root = (await store.compact_range(stored.tree_size)).root()
        except MissingNodeError as error:
            report.find("tree_head_root", f"{where}: {error}")
            continue
        if root != head.root_hash:
            report.find(
                "tree_head_root",
                f"{where}: stored nodes give root {root.hex()}, signed root is "
                f"{head.root_hash.hex()}",
            )
