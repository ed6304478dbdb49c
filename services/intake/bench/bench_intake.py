"""Benchmark of case registration in the intake service, on the real PostgreSQL.

Usage (from the repository root, with the stack up)::

    .venv/bin/python services/intake/bench/bench_intake.py [--cases N] [--concurrency C]

Reports registrations per second through the `register_case` use case (validation, per-case
AES-GCM encryption, HMAC match keys, duplicate lookup, reference counter, case + needs +
consent rows and the outbox event, one transaction each), sequentially and with C concurrent
callers, with p50/p99 latency; and the cost of encrypting and decrypting one person's record.
It runs in a private schema of the intake database, dropped afterwards, so no relay publishes
its events and no case is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

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
from mpa_intake.app.context import Actor, IntakeContext
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
    ctx: IntakeContext, first: int, count: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = iter(range(first, first + count))

    async def caller() -> None:
        for index in queue:
            started = time.perf_counter()
            await register_case(ctx, OPERATOR, command(index))
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


async def private_schema(url: str) -> tuple[str, AsyncEngine]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    await admin.dispose()
    engine = create_async_engine(
        url, pool_size=10, connect_args={"server_settings": {"search_path": schema}}
    )
    return schema, engine


async def main(cases: int, concurrency: int) -> None:
    url = local_database_url("intake")
    key = new_master_key("bench")
    vault = PersonalDataVault(MasterKeyring(parse_master_keys(key), "bench"))
    seal, unseal = crypto_cost(vault, 2000)
    print(f"encrypt one person's record (new data key + wrap): {seal * 1e6:8.1f} µs")
    print(f"decrypt one person's record (unwrap + open):       {unseal * 1e6:8.1f} µs")

    schema, engine = await private_schema(url)
    ctx = IntakeContext(
        unit_of_work=unit_of_work_factory(async_sessionmaker(engine, expire_on_commit=False)),
        vault=vault,
        matcher=MatchKeyer(secrets.token_bytes(32)),
    )
    try:
        await timed_registrations(ctx, 0, 20, 1)  # warm the pool and caches
        for callers in (1, concurrency):
            elapsed, latencies = await timed_registrations(ctx, 100_000 * callers, cases, callers)
            print(
                f"register_case, {callers:2d} caller(s): {cases / elapsed:7.1f} cases/s  "
                f"p50 {percentile(latencies, 0.5) * 1e3:6.1f} ms  "
                f"p99 {percentile(latencies, 0.99) * 1e3:6.1f} ms  "
                f"mean {statistics.fmean(latencies) * 1e3:6.1f} ms"
            )
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
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.concurrency))
