"""Benchmark of the audit log on the real PostgreSQL: appends, proofs and exports at 1M leaves.

Usage (from the repository root, stack up)::

    .venv/bin/python services/audit/bench/bench_audit.py [--appends N] [--leaves N] [--samples S]

Everything runs in throw-away schemas of the mpa_audit database (dropped at the end):

1. appends per second through the service's append use case one event per transaction
   (under the append lock, as the runtime role), with one writer and with two at once (the
   batched path is `bench_append.py`);
2. a log of ``--leaves`` synthetic leaves (real leaf encoding), their tree nodes and their
   partition's account, bulk-loaded with COPY; then p50/p99 latency of inclusion and
   consistency proofs, of a tree head signed on demand, of coverage (read from the
   maintained accounts) and of the incremental integrity check after a few appends, the
   full recomputation's time, and the time to export it all and to verify that export
   offline (``mpa audit verify``'s code). Every proof is verified, so a wrong one stops the
   run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mpa_audit.adapters.schema import provision_schema
from mpa_audit.adapters.signing import TreeHeadSigner
from mpa_audit.adapters.tables import outbox
from mpa_audit.adapters.uow import AuditUnitOfWork
from mpa_audit.app.append import append_events
from mpa_audit.app.coverage import coverage
from mpa_audit.app.export import export_lines, prepare_export
from mpa_audit.app.integrity import IntegrityChecker
from mpa_audit.app.ports import UnitOfWorkFactory
from mpa_audit.app.proofs import consistency_proof, inclusion_proof
from mpa_audit.app.tree_heads import TreeHeads
from mpa_audit.domain.leaf import RecordOrigin, leaf_bytes
from mpa_audit_verify.compact_range import CompactRange
from mpa_audit_verify.export import verify_export
from mpa_audit_verify.hashing import leaf_hash
from mpa_audit_verify.note import VerifierKey
from mpa_audit_verify.proofs import verify_consistency, verify_inclusion
from mpa_common.settings import RUNTIME_ROLES, local_database_url, local_owner_database_url
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.vocabularies import ActorRole, CaseClosureReason

OWNER_URL = os.environ.get("AUDIT_MIGRATIONS_DATABASE_URL") or local_owner_database_url("audit")
RUNTIME_URL = os.environ.get("AUDIT_DATABASE_URL") or local_database_url("audit")


def event() -> Envelope:
    data = CaseClosedV1(
        case_id=uuid.uuid4(),
        reason=CaseClosureReason.NEEDS_MET,
        actor_id="caseworker:bench",
        actor_role=ActorRole.CASEWORKER,
    )
    return new_envelope(data, source="urn:mpa:service:intake")


async def new_schema(owner: AsyncEngine) -> str:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    async with owner.begin() as connection:
        await provision_schema(connection, schema, RUNTIME_ROLES["audit"])
    return schema


def runtime_units(schema: str) -> tuple[AsyncEngine, UnitOfWorkFactory]:
    engine = create_async_engine(
        RUNTIME_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return engine, lambda: AuditUnitOfWork(sessions, outbox, source="urn:mpa:service:audit")


async def bench_appends(owner: AsyncEngine, count: int) -> None:
    schema = await new_schema(owner)
    engine, units = runtime_units(schema)
    try:

        async def write(name: str, events: Sequence[Envelope]) -> None:
            for offset, envelope in enumerate(events):
                await append_events(units, [(envelope, RecordOrigin(name, 0, offset))])

        single = [event() for _ in range(count)]
        started = time.perf_counter()
        await write("single", single)
        elapsed = time.perf_counter() - started
        print(f"appends, 1 writer               {count / elapsed:8.0f} /s  ({count:,} events)")
        pair = [[event() for _ in range(count // 2)] for _ in range(2)]
        started = time.perf_counter()
        await asyncio.gather(write("a", pair[0]), write("b", pair[1]))
        elapsed = time.perf_counter() - started
        print(
            f"appends, 2 writers at once      {count / elapsed:8.0f} /s  (serialised by the lock)"
        )
    finally:
        await engine.dispose()
        async with owner.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


async def bulk_load(schema: str, leaves: int) -> None:
    """COPY ``leaves`` synthetic leaves and their interior nodes, as the service writes them."""
    template = event()
    base = leaf_bytes(template, RecordOrigin("mpa.case.v1", 0, 0)).decode()
    case_text, event_text = str(template.key), str(template.id)
    frontier = CompactRange()
    entry_rows: list[tuple[object, ...]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    now = datetime.now(UTC)
    started = time.perf_counter()
    connection = await asyncpg.connect(
        OWNER_URL.replace("postgresql+asyncpg://", "postgresql://"),
        server_settings={"search_path": schema},
    )
    try:

        async def flush() -> None:
            await connection.copy_records_to_table(
                "log_entries",
                records=entry_rows,
                columns=[
                    "seq", "leaf", "leaf_hash", "event_id", "event_type", "event_time",
                    "correlation_id", "case_id", "actor_id", "source_topic",
                    "source_partition", "source_offset", "logged_at",
                ],
            )  # fmt: skip
            await connection.copy_records_to_table(
                "merkle_nodes", records=node_rows, columns=["level", "node_index", "hash"]
            )
            entry_rows.clear()
            node_rows.clear()

        for seq in range(leaves):
            event_id, case_id = uuid.UUID(int=seq + 1), uuid.UUID(int=(seq % 1000) + 1)
            leaf = (
                base.replace(event_text, str(event_id))
                .replace(case_text, str(case_id))
                .replace('"offset":0', f'"offset":{seq}')
                .encode()
            )
            completed = frontier.append(leaf_hash(leaf))
            entry_rows.append(
                (seq, leaf, completed[0].hash, event_id, template.type, template.time,
                 event_id, case_id, template.actor_id, "mpa.case.v1", 0, seq, now)
            )  # fmt: skip
            node_rows.extend((n.level, n.index, n.hash) for n in completed[1:])
            if len(entry_rows) == 50_000:
                await flush()
        await flush()
        await connection.execute(
            "INSERT INTO coverage_accounts (source_topic, source_partition, source_epoch, "
            "next_offset, seen, logged, duplicates, replays, dead_lettered) "
            "VALUES ('mpa.case.v1', 0, 0, $1, $1, $1, 0, 0, 0)",
            leaves,
        )
        await connection.execute("ANALYZE log_entries; ANALYZE merkle_nodes")
    finally:
        await connection.close()
    elapsed = time.perf_counter() - started
    print(f"bulk load (COPY) of {leaves:,} leaves {elapsed:8.1f} s  (+ nodes, indexes)")


async def latencies(
    operation: Callable[[int], Awaitable[None]], inputs: Sequence[int]
) -> tuple[float, float]:
    timings = []
    for item in inputs:
        started = time.perf_counter()
        await operation(item)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, round(0.99 * len(timings)) - 1)]


async def bench_large_log(owner: AsyncEngine, leaves: int, samples: int) -> None:
    schema = await new_schema(owner)
    engine, units = runtime_units(schema)
    key = Ed25519PrivateKey.generate()
    signer = TreeHeadSigner("bench.mpa.example/log", key)
    tree_heads = TreeHeads(units, signer)
    rng = random.Random(6962)
    try:
        await bulk_load(schema, leaves)
        started = time.perf_counter()
        head = await tree_heads.at(None)
        print(
            f"tree head signed at {leaves:,}     {(time.perf_counter() - started) * 1000:8.1f} ms"
        )

        async def one_inclusion(seq: int) -> None:
            proof = await inclusion_proof(units, seq, leaves)
            verify_inclusion(seq, leaves, proof.leaf_hash, proof.audit_path, head.head.root_hash)

        async def one_consistency(first: int) -> None:
            proof = await consistency_proof(units, first, leaves)
            verify_consistency(
                first, leaves, proof.first_root_hash, head.head.root_hash, proof.proof
            )

        print(f"\nlatency at {leaves:,} leaves ({samples} samples)   p50 ms   p99 ms")
        p50, p99 = await latencies(one_inclusion, [rng.randrange(leaves) for _ in range(samples)])
        print(f"  inclusion proof (DB + verify)   {p50:7.2f}  {p99:7.2f}")
        p50, p99 = await latencies(
            one_consistency, [rng.randrange(1, leaves) for _ in range(samples)]
        )
        print(f"  consistency proof (DB + verify) {p50:7.2f}  {p99:7.2f}")

        async def no_kafka(topics: Sequence[str]) -> dict[tuple[str, int], int]:
            return {("mpa.case.v1", 0): leaves}

        async def one_coverage(_: int) -> None:
            (partition,) = await coverage(units, no_kafka, ["mpa.case.v1"])
            assert partition.complete

        p50, p99 = await latencies(one_coverage, list(range(min(samples, 100))))
        print(f"  coverage (maintained accounts)  {p50:7.2f}  {p99:7.2f}")

        checker = IntegrityChecker(units, signer.public, signer.origin)
        started = time.perf_counter()
        full = await checker.full()
        assert full.intact, full.findings
        print(f"\nfull integrity recomputation     {time.perf_counter() - started:8.1f} s")
        for round_number in range(3):
            await append_events(
                units,
                [(event(), RecordOrigin("mpa.case.v1", 0, leaves + round_number * 100 + i))
                 for i in range(100)],
            )  # fmt: skip
            await tree_heads.at(None)
            started = time.perf_counter()
            report = await checker.incremental()
            assert report.intact, report.findings
            print(
                f"incremental integrity check      {(time.perf_counter() - started) * 1000:8.1f} ms"
                f"  ({report.leaves_checked} new leaves since the last check)"
            )
        size = leaves + 300

        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "export.jsonl"
            started = time.perf_counter()
            header = await prepare_export(
                units, tree_heads, start=0, tree_size=size, previous_tree_size=None
            )
            with path.open("wb") as file:
                async for chunk in export_lines(units, header):
                    file.write(chunk)
            elapsed = time.perf_counter() - started
            size_mb = path.stat().st_size / 1e6
            print(f"\nexport of {size:,} leaves      {elapsed:8.1f} s  ({size_mb:,.0f} MB)")
            started = time.perf_counter()
            with path.open("rb") as lines:
                result = verify_export(lines, VerifierKey(signer.key_name, key.public_key()))
            elapsed = time.perf_counter() - started
            assert result.leaves == size
            print(
                f"verify of the export            {elapsed:8.1f} s  "
                f"({size / elapsed:,.0f} leaves/s, offline, signature + root)"
            )
    finally:
        await engine.dispose()
        async with owner.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=2_000)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500)
    arguments = parser.parse_args()
    owner = create_async_engine(OWNER_URL)
    try:
        await bench_appends(owner, arguments.appends)
        await bench_large_log(owner, arguments.leaves, arguments.samples)
    finally:
        await owner.dispose()


if __name__ == "__main__":
    asyncio.run(main())
