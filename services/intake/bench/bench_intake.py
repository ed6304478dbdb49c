"""Benchmark of case registration in the intake service, on the real PostgreSQL.

Usage (from the repository root, with the stack up)::

    .venv/bin/python services/intake/bench/bench_intake.py [--cases N] [--concurrency C]

Reports registrations per second through the `register_case` use case (validation, per-case
AES-GCM encryption, HMAC match keys, duplicate lookup, then in ONE transaction the
idempotency check, the reference counter, case + needs + consent + match-key rows, the
idempotency record and the outbox event), sequentially and with C concurrent callers, with
p50/p99 latency; and the cost of encrypting and decrypting one person's record.

While the concurrent callers run, a sampler reads `pg_stat_activity` every few milliseconds
and reports what the benchmark's database sessions were doing: running a statement, waiting
for the outbox's commit-order lock (`LOCK TABLE outbox IN EXCLUSIVE MODE`), waiting for the
year's reference counter row, flushing the commit to disk (WAL), or idle in a transaction
while Python works. `--processes P` spreads the callers over P processes (replicas).

It runs in a private schema of the intake database, dropped afterwards, so no relay publishes
its events and no case is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import secrets
import statistics
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mpa_common.messaging.outbox import CommitOrder
from mpa_common.settings import local_database_url
from mpa_contracts.vocabularies import ActorRole
from mpa_intake.adapters.crypto import (
    MasterKeyring,
    MatchKeyer,
    PersonalDataVault,
    new_master_key,
    parse_master_keys,
)
from mpa_intake.adapters.tables import metadata
from mpa_intake.adapters.unit_of_work import unit_of_work_factory
from mpa_intake.app.cases import register_case
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import UNSCOPED, Actor, IntakeContext
from mpa_intake.app.reads import read_case
from mpa_intake.domain.personal_data import PersonalData

OPERATOR = Actor(subject="bench", actor_id="operator:bench", role=ActorRole.OPERATOR)


def command(index: int) -> RegisterCase:
    return RegisterCase.model_validate(
        {
            "person": {
                "given_name": f"Bench{index}",
                "family_name": "Exemple",
                "date_of_birth": "1994-05-06",
                "sex": "female",
                "languages": ["ha", "en"],
                "phone": f"+227 90 {index:06d}",
                "email": f"bench{index}@example.org",
            },
            "location": {"country": "NE", "admin_area": "NE-1", "place": "Transit centre"},
            "vulnerabilities": ["trafficking_victim"],
            "needs": [
                {"category": "shelter", "urgency": "critical", "note": "Needs a bed tonight"},
                {"category": "legal_aid", "urgency": "medium"},
            ],
            "consent": {
                "given": True,
                "details": {
                    "scopes": ["referral", "data_sharing"],
                    "given_by": "self",
                    "method": "verbal",
                    "obtained_at": "2026-01-05T10:00:00Z",
                },
            },
            "safety": {"do_not_contact": False, "safe_contact_method": "sms"},
        }
    )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


async def timed_registrations(
    ctx: IntakeContext,
    first: int,
    count: int,
    concurrency: int,
    registered: list[uuid.UUID] | None = None,
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = iter(range(first, first + count))

    async def caller() -> None:
        for index in queue:
            started = time.perf_counter()
            result = await register_case(ctx, OPERATOR, command(index))
            latencies.append(time.perf_counter() - started)
            if registered is not None:
                registered.append(result.case_id)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - started, sorted(latencies)


async def timed_reads(
    ctx: IntakeContext, case_ids: Sequence[uuid.UUID], count: int, concurrency: int
) -> tuple[float, list[float]]:
    """Operators reading cases: each read decrypts and announces itself (an outbox event),
    without locking the case, so the outbox's commit-order lock is what they share."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def caller() -> None:
        for index in queue:
            started = time.perf_counter()
            await read_case(ctx, OPERATOR, case_ids[index % len(case_ids)])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - started, sorted(latencies)


def crypto_cost(vault: PersonalDataVault, rounds: int) -> tuple[float, float]:
    person = PersonalData(
        given_name="Aïcha",
        family_name="Exemple",
        estimated_age=16,
        phone="+227 90 00 00 01",
        email="a@example.org",
        place="Transit centre",
        need_notes={uuid.uuid4(): "Needs a bed tonight"},
    )
    case_id = uuid.uuid4()
    started = time.perf_counter()
    sealed = [vault.seal_new(case_id, person) for _ in range(rounds)]
    seal = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for one in sealed:
        vault.open(case_id, one)
    return seal, (time.perf_counter() - started) / rounds


APPLICATION_NAME = "mpa-intake-bench"
SAMPLE_SQL = """
SELECT a.state, a.wait_event_type, a.wait_event, l.locktype, l.relation::regclass::text AS rel
FROM pg_stat_activity a
LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.application_name = $1
"""


def _category(row: asyncpg.Record) -> str:
    if row["locktype"] == "relation" and (row["rel"] or "").endswith("outbox"):
        return "waiting: outbox commit-order lock"
    if row["locktype"] == "advisory":
        return "waiting: outbox per-key lock"
    if row["locktype"] in ("transactionid", "tuple"):
        return "waiting: a row lock (reference counter)"
    if row["wait_event_type"] == "Lock":
        return f"waiting: other lock ({row['locktype']})"
    if row["wait_event"] in ("WALSync", "WALWrite", "WalSync") or row["wait_event_type"] == "IO":
        return "flushing WAL at commit"
    if row["state"] == "active":
        return "running a statement"
    if row["state"] == "idle in transaction":
        return "idle in transaction (Python's turn)"
    return "idle (between transactions)"


class ActivitySampler:
    """What the benchmark's sessions do, sampled from pg_stat_activity."""

    def __init__(self, url: str, interval: float = 0.005) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._interval = interval
        self.counts: collections.Counter[str] = collections.Counter()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ActivitySampler:
        self._connection = await asyncpg.connect(self._dsn)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task
        await self._connection.close()

    async def _run(self) -> None:
        while not self._stop.is_set():
            for row in await self._connection.fetch(SAMPLE_SQL, APPLICATION_NAME):
                self.counts[_category(row)] += 1
            await asyncio.sleep(self._interval)

    def report(self) -> str:
        total = sum(self.counts.values()) or 1
        busy = {k: v for k, v in self.counts.items() if not k.startswith("idle (between")}
        lines = [f"    database sessions, {total} samples (share of session time):"]
        for name, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            lines.append(f"      {100 * count / total:5.1f}%  {name}")
        in_tx = sum(busy.values()) or 1
        lock = (
            self.counts["waiting: outbox commit-order lock"]
            + self.counts["waiting: outbox per-key lock"]
        )
        lines.append(f"    outbox lock wait: {100 * lock / in_tx:.1f}% of time in transactions")
        return "\n".join(lines)


async def private_schema(url: str) -> tuple[str, AsyncEngine]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    await admin.dispose()
    return schema, _engine(url, schema)


def _engine(url: str, schema: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=10,
        connect_args={
            "server_settings": {"search_path": schema, "application_name": APPLICATION_NAME}
        },
    )


COMMIT_ORDER = CommitOrder.PER_KEY  # --commit-order


def _context(engine: AsyncEngine, key: str) -> IntakeContext:
    return IntakeContext(
        unit_of_work=unit_of_work_factory(
            async_sessionmaker(engine, expire_on_commit=False), commit_order=COMMIT_ORDER
        ),
        vault=PersonalDataVault(MasterKeyring(parse_master_keys(key), "bench")),
        matcher=MatchKeyer(secrets.token_bytes(32)),
        scopes=UNSCOPED,
    )


def _replica(
    url: str,
    schema: str,
    key: str,
    first: int,
    count: int,
    callers: int,
    start_at: float,
    commit_order: str,
) -> tuple[list[float], float, float]:
    """One process of a multi-process run: its callers' latencies, its start and end."""
    global COMMIT_ORDER
    COMMIT_ORDER = CommitOrder(commit_order)

    async def run() -> tuple[list[float], float, float]:
        engine = _engine(url, schema)
        try:
            ctx = _context(engine, key)
            await timed_registrations(ctx, first + 9_000, 5, 1)  # warm up
            await asyncio.sleep(max(0.0, start_at - time.time()))
            started = time.time()
            latencies = (await timed_registrations(ctx, first, count, callers))[1]
            return latencies, started, time.time()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _print_run(
    label: str, cases: int, elapsed: float, latencies: list[float], what: str = "register_case"
) -> None:
    print(
        f"{what}, {label}: {cases / elapsed:7.1f} /s  "
        f"p50 {percentile(latencies, 0.5) * 1e3:6.1f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1e3:6.1f} ms  "
        f"mean {statistics.fmean(latencies) * 1e3:6.1f} ms"
    )


async def main(cases: int, concurrency: int, processes: int) -> None:
    url = local_database_url("intake")
    key = new_master_key("bench")
    vault = PersonalDataVault(MasterKeyring(parse_master_keys(key), "bench"))
    seal, unseal = crypto_cost(vault, 2000)
    print(f"encrypt one person's record (new data key + wrap): {seal * 1e6:8.1f} µs")
    print(f"decrypt one person's record (unwrap + open):       {unseal * 1e6:8.1f} µs")

    schema, engine = await private_schema(url)
    ctx = _context(engine, key)
    try:
        await timed_registrations(ctx, 0, 20, 1)  # warm the pool and caches
        elapsed, latencies = await timed_registrations(ctx, 100_000, cases, 1)
        _print_run(" 1 caller   ", cases, elapsed, latencies)
        registered: list[uuid.UUID] = []
        async with ActivitySampler(url) as sampler:
            elapsed, latencies = await timed_registrations(
                ctx, 200_000, cases, concurrency, registered
            )
        _print_run(f"{concurrency:2d} callers  ", cases, elapsed, latencies)
        print(sampler.report())
        elapsed, latencies = await timed_reads(ctx, registered, cases, 1)
        _print_run(" 1 caller   ", cases, elapsed, latencies, what="read_case    ")
        async with ActivitySampler(url) as sampler:
            elapsed, latencies = await timed_reads(ctx, registered, cases, concurrency)
        _print_run(f"{concurrency:2d} callers  ", cases, elapsed, latencies, what="read_case    ")
        print(sampler.report())
        if processes > 1:
            per_process = cases // processes
            start_at = time.time() + 8.0  # every process started and warmed up by then
            loop = asyncio.get_running_loop()
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
                async with ActivitySampler(url) as sampler:
                    parts = await asyncio.gather(
                        *(
                            loop.run_in_executor(
                                pool,
                                _replica,
                                url,
                                schema,
                                key,
                                300_000 + index * 10_000,
                                per_process,
                                max(1, concurrency // processes),
                                start_at,
                                COMMIT_ORDER.value,
                            )
                            for index in range(processes)
                        )
                    )
            all_latencies = sorted(value for part in parts for value in part[0])
            elapsed = max(part[2] for part in parts) - min(part[1] for part in parts)
            _print_run(
                f"{processes} processes x {max(1, concurrency // processes)} callers",
                per_process * processes,
                elapsed,
                all_latencies,
            )
            print(sampler.report())
    finally:
        await engine.dispose()
        admin = create_async_engine(url)
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--commit-order",
        choices=[order.value for order in CommitOrder],
        default=CommitOrder.PER_KEY.value,
        help="how outbox writers keep commit order (per_key: intake's; table: the old lock)",
    )
    arguments = parser.parse_args()
    COMMIT_ORDER = CommitOrder(arguments.commit_order)
    print(f"outbox commit order: {COMMIT_ORDER.value}")
    asyncio.run(main(arguments.cases, arguments.concurrency, arguments.processes))
