"""Use cases: re-check the stored log against its hashes, signed tree heads and witnesses.

Finds what the database's protections cannot stop: a row changed or removed by a superuser
(or the owner with triggers disabled), and a history rewritten and re-signed.

* **Incremental** (`GET /v1/audit/health/integrity`): verifies what was added since the last
  intact check: from the right edge that check verified, each new leaf's hash and indexed
  columns are recomputed, and with them every node the new leaves complete, which must equal
  the stored nodes and give the roots of the signed tree heads of the new sizes. The stored
  right edge at the starting point must still be the verified one. Cost: the new leaves,
  plus O(log n) reads per tree head checked.
* **Full** (on demand, `?scope=full`, and periodically in the background): every leaf hash
  and node recomputed (inside PostgreSQL), node counts, every indexed column, the partitions'
  accounts recounted.

Both check the latest signed tree heads (signature, stored nodes give their root) and ask
each witness for the latest checkpoint it cosigned: the stored tree must give that root at
that size, so a history rewritten after it was witnessed is found even if every tree head
was deleted and re-signed. An intact check records the verified right edge; the next
incremental check starts there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mpa_audit.app.ports import (
    IntegrityCheck,
    LogRepository,
    StoredRow,
    StoredTreeHead,
    UnitOfWorkFactory,
    Witness,
)
from mpa_audit.domain.leaf import summarize_leaf
from mpa_audit.domain.proof_plans import MissingNodeError
from mpa_audit_verify.checkpoint import verify_signed_tree_head
from mpa_audit_verify.compact_range import CompactRange, frontier_node_ids
from mpa_audit_verify.cosignature import add_signature_lines, verify_cosignature
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import CheckpointError, VerifierKey
from mpa_common.failures import DependencyUnavailable
from mpa_common.health import DependencyMonitor
from mpa_common.workers import PeriodicWorker

log = logging.getLogger(__name__)

TREE_HEADS_CHECKED = 20
ROW_BATCH = 2000
SAMPLE = 20
"""At most this many offending seqs or nodes are named per check."""

INCREMENTAL = "incremental"
FULL = "full"


@dataclass(frozen=True, slots=True)
class IntegrityFinding:
    check: str
    detail: str


@dataclass
class IntegrityReport:
    scope: str
    tree_size: int
    from_size: int = 0
    leaves_checked: int = 0
    nodes_checked: int = 0
    tree_heads_checked: int = 0
    witnesses_checked: int = 0
    seconds: float = 0.0
    findings: list[IntegrityFinding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    last_full: IntegrityCheck | None = None

    @property
    def intact(self) -> bool:
        """Nothing found now, and the last full check (if any) found nothing either."""
        return not self.findings and (self.last_full is None or self.last_full.intact)

    def find(self, check: str, detail: str) -> None:
        self.findings.append(IntegrityFinding(check, detail))


class _Samples:
    """Offending seqs or nodes of one check, the first few named."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self.count = 0

    def add(self, item: object) -> None:
        self.count += 1
        if len(self.items) < SAMPLE:
            self.items.append(item)


@dataclass(frozen=True, slots=True)
class IntegrityChecker:
    """What the checks need: the unit of work, the log's key and origin, the witnesses."""

    uow_factory: UnitOfWorkFactory
    log_key: VerifierKey
    origin: str
    witnesses: Sequence[Witness] = ()

    async def incremental(self) -> IntegrityReport:
        started = time.perf_counter()
        async with self.uow_factory() as uow:
            await uow.log.snapshot()
            size = await uow.log.tree_size()
            base = await uow.log.latest_check(intact=True)
            if (
                base is None
                or base.tree_size > size
                or len(base.peaks) != base.tree_size.bit_count()
            ):
                base = None
            start = base.tree_size if base else 0
            compact = CompactRange.from_peaks(start, base.peaks) if base else CompactRange()
            report = IntegrityReport(INCREMENTAL, size, from_size=start)
            await self._check_start(uow.log, compact, report)
            await self._check_new_leaves(uow.log, compact, size, report)
            await self._check_tree_heads(uow.log, size, report)
            await self._check_witnesses(uow.log, size, report)
            report.last_full = await uow.log.latest_check(scope=FULL)
            # An intact check that verified something new records where the next starts.
            if not report.findings and compact.size == size and (base is None or size > start):
                await uow.log.add_check(
                    IntegrityCheck(
                        INCREMENTAL,
                        datetime.now(UTC),
                        start,
                        size,
                        True,
                        root_hash=compact.root(),
                        peaks=compact.peaks,
                    )
                )
                await uow.commit()
        report.seconds = time.perf_counter() - started
        return report

    async def full(self) -> IntegrityReport:
        started = time.perf_counter()
        async with self.uow_factory() as uow:
            await uow.log.snapshot()
            scan = await uow.log.full_scan()
            size = 0 if scan.last_seq is None else scan.last_seq + 1
            report = IntegrityReport(FULL, size, leaves_checked=scan.leaf_count)
            if scan.leaf_count != size:
                report.find(
                    "contiguity", f"{size - scan.leaf_count} of seqs 0..{size - 1} are missing"
                )
            if scan.leaves_with_wrong_hash:
                report.find(
                    "leaf_hash",
                    "leaf hash differs from SHA-256(0x00 || leaf) at seqs "
                    f"{scan.leaves_with_wrong_hash}",
                )
            if scan.nodes_with_wrong_hash:
                report.find(
                    "node_hash",
                    f"nodes (level, index) not the hash of their children: "
                    f"{scan.nodes_with_wrong_hash}",
                )
            report.nodes_checked = sum(scan.node_counts.values())
            for level in range(1, max([size.bit_length(), *scan.node_counts]) + 1):
                expected, stored = size >> level, scan.node_counts.get(level, 0)
                if stored != expected:
                    report.find(
                        "node_count", f"level {level} holds {stored} nodes, expected {expected}"
                    )
            mismatched = _Samples()
            async for rows in uow.log.rows(0, size, ROW_BATCH):
                for row in rows:
                    if not _columns_match(row):
                        mismatched.add(row.seq)
                await asyncio.sleep(0)  # long checks let the service's requests through
            if mismatched.count:
                report.find(
                    "indexed_columns", f"columns disagree with the leaf at seqs {mismatched.items}"
                )
            for mismatch in scan.account_mismatches:
                report.find("accounts", mismatch)
            await self._check_tree_heads(uow.log, size, report)
            await self._check_witnesses(uow.log, size, report)
            root: bytes | None = None
            peaks: tuple[bytes, ...] = ()
            if not report.findings:
                try:
                    compact = await uow.log.compact_range(size)
                    root, peaks = compact.root(), compact.peaks
                except MissingNodeError as error:
                    report.find("node_count", str(error))
            await uow.log.add_check(
                IntegrityCheck(
                    FULL,
                    datetime.now(UTC),
                    0,
                    size,
                    not report.findings,
                    findings=tuple((f.check, f.detail) for f in report.findings),
                    root_hash=root,
                    peaks=peaks,
                )
            )
            await uow.commit()
        report.seconds = time.perf_counter() - started
        return report

    # --- the parts ------------------------------------------------------------------

    async def _check_start(
        self, log_store: LogRepository, compact: CompactRange, report: IntegrityReport
    ) -> None:
        """The stored right edge where this check starts is still the one verified."""
        if not compact.size:
            return
        ids = frontier_node_ids(compact.size)
        stored = await log_store.get_nodes(ids)
        changed = [i for i, peak in zip(ids, compact.peaks, strict=True) if stored.get(i) != peak]
        if changed:
            report.find(
                "verified_nodes",
                f"nodes {changed} changed since a check verified the tree of {compact.size} leaves",
            )

    async def _check_new_leaves(
        self, log_store: LogRepository, compact: CompactRange, size: int, report: IntegrityReport
    ) -> None:
        start = compact.size
        heads = {h.tree_size: h for h in await log_store.tree_heads_between(start, size)}
        stored_nodes = await log_store.nodes_completed(start, size)
        wrong_leaves, wrong_columns, wrong_nodes = _Samples(), _Samples(), _Samples()
        recomputed = 0
        expected = start
        async for rows in log_store.rows(start, size, ROW_BATCH):
            for row in rows:
                if row.seq != expected:
                    report.find(
                        "contiguity", f"seqs {expected}..{row.seq - 1} are missing from the log"
                    )
                    return
                expected += 1
                hashed = leaf_hash(row.leaf)
                if hashed != row.leaf_hash:
                    wrong_leaves.add(row.seq)
                if not _columns_match(row):
                    wrong_columns.add(row.seq)
                for node in compact.append(hashed)[1:]:
                    recomputed += 1
                    if stored_nodes.get((node.level, node.index)) != node.hash:
                        wrong_nodes.add((node.level, node.index))
                head = heads.get(compact.size)
                if head is not None and head.root_hash != compact.root():
                    report.find(
                        "tree_head_root",
                        f"tree head of size {head.tree_size}: the leaves give root "
                        f"{compact.root().hex()}, signed root is {head.root_hash.hex()}",
                    )
            report.leaves_checked = compact.size - start
            await asyncio.sleep(0)
        if expected != size:
            report.find("contiguity", f"seqs {expected}..{size - 1} are missing from the log")
        report.nodes_checked = recomputed
        if wrong_leaves.count:
            report.find(
                "leaf_hash",
                f"leaf hash differs from SHA-256(0x00 || leaf) at seqs {wrong_leaves.items}",
            )
        if wrong_columns.count:
            report.find(
                "indexed_columns", f"columns disagree with the leaf at seqs {wrong_columns.items}"
            )
        if wrong_nodes.count:
            report.find(
                "node_hash",
                f"nodes (level, index) not the hash of their children: {wrong_nodes.items}",
            )
        if len(stored_nodes) != recomputed:
            report.find(
                "node_count",
                f"{len(stored_nodes)} nodes stored for leaves {start}..{size - 1}, "
                f"{recomputed} expected",
            )

    async def _check_tree_heads(
        self, log_store: LogRepository, size: int, report: IntegrityReport
    ) -> None:
        for stored in await log_store.latest_tree_heads(TREE_HEADS_CHECKED):
            report.tree_heads_checked += 1
            where = f"tree head of size {stored.tree_size}"
            try:
                head = verify_signed_tree_head(
                    stored.checkpoint,
                    self.log_key.public_key,
                    self.log_key.name,
                    origin=self.origin,
                )
            except CheckpointError as error:
                report.find("tree_head_signature", f"{where}: {error}")
                continue
            if head.tree_size != stored.tree_size or head.root_hash != stored.root_hash:
                report.find("tree_head_row", f"{where}: columns differ from the signed checkpoint")
            if stored.tree_size > size:
                report.find("tree_head_size", f"{where} is larger than the log ({size} leaves)")
                continue
            await self._check_cosignatures(log_store, stored, report)
            try:
                root = (await log_store.compact_range(stored.tree_size)).root()
            except MissingNodeError as error:
                report.find("tree_head_root", f"{where}: {error}")
                continue
            if root != head.root_hash:
                report.find(
                    "tree_head_root",
                    f"{where}: stored nodes give root {root.hex()}, signed root is "
                    f"{head.root_hash.hex()}",
                )

    async def _check_cosignatures(
        self, log_store: LogRepository, stored: StoredTreeHead, report: IntegrityReport
    ) -> None:
        """Every stored cosignature by a witness we know verifies on the stored tree head of
        its size: one that does not was given to a tree head since replaced."""
        keys = {witness.key.name: witness.key for witness in self.witnesses}
        for cosignature in await log_store.cosignatures(stored.tree_size):
            key = keys.get(cosignature.witness)
            if key is None:
                continue
            try:
                verify_cosignature(add_signature_lines(stored.checkpoint, cosignature.line), key)
            except CheckpointError:
                report.find(
                    "tree_head_cosignature",
                    f"a cosignature by {cosignature.witness} of the tree of {stored.tree_size} "
                    "leaves does not verify on the stored tree head: the tree head was replaced",
                )

    async def _check_witnesses(
        self, log_store: LogRepository, size: int, report: IntegrityReport
    ) -> None:
        for witness in self.witnesses:
            name = witness.key.name
            try:
                note = await witness.latest_checkpoint(self.origin)
            except DependencyUnavailable as error:
                report.warnings.append(f"witness {name} unreachable: {error}")
                continue
            if note is None:
                report.warnings.append(f"witness {name} has cosigned nothing of this log yet")
                continue
            report.witnesses_checked += 1
            try:
                head = verify_signed_tree_head(
                    note, self.log_key.public_key, self.log_key.name, origin=self.origin
                )
                verify_cosignature(note, witness.key)
            except CheckpointError as error:
                report.warnings.append(f"witness {name} served an unverifiable checkpoint: {error}")
                continue
            where = f"witness {name} cosigned the tree of {head.tree_size} leaves"
            if head.tree_size > size:
                report.find("witness_checkpoint", f"{where}, the log holds only {size}")
                continue
            try:
                root = (await log_store.compact_range(head.tree_size)).root()
            except MissingNodeError as error:
                report.find("witness_checkpoint", f"{where}: {error}")
                continue
            if root != head.root_hash:
                report.find(
                    "witness_checkpoint",
                    f"{where} with root {head.root_hash.hex()}; the stored tree gives "
                    f"{root.hex()}: the history was rewritten after it was witnessed",
                )


def _columns_match(row: StoredRow) -> bool:
    try:
        summary = summarize_leaf(row.leaf)
    except (ValueError, KeyError, TypeError, AttributeError):
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


def full_integrity_worker(
    checker: IntegrityChecker,
    interval_seconds: float,
    *,
    monitor: DependencyMonitor | None = None,
) -> PeriodicWorker:
    """Background worker: the full recomputation every interval (its findings are reported by
    every incremental check until a later full check is intact)."""

    async def check() -> None:
        report = await checker.full()
        if report.findings:
            log.error(
                "audit log integrity check failed",
                extra={
                    "findings": [f.check for f in report.findings],
                    "tree_size": report.tree_size,
                },
            )
        else:
            log.info(
                "audit log verified",
                extra={"tree_size": report.tree_size, "seconds": round(report.seconds, 3)},
            )

    return PeriodicWorker("audit-integrity", check, interval_seconds, monitor=monitor)
