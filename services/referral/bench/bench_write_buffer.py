"""The write buffer's flush on the real PostgreSQL (`make bench`): the rows a batch of
BENCH_CASES (20) case registrations leaves for the commit (2 needs each: per case 2 needs,
2 referrals, 2 routing attempts with 6 candidates each, 4 history entries, 2 SLA timers),
flushed in a transaction that is then rolled back, so each round writes the same. Prints
this process's CPU time per flush and per row (time.process_time: what the service's own
core spends, whatever else the machine runs), and the wall time.

Measured on the shared 2-core machine, CPU per flush (median) for 1 / 20 / 100 cases:
executemany per table 1.02 / 3.44 / 11.70 ms; one unnest() statement per table 1.14 /
3.00 / 10.16 ms; one statement for the whole flush 0.40 / 2.03 / 8.60 ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bench_routing as directory_bench
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mpa_referral.adapters.tables import (
    case_needs,
    cases,
    referral_history,
    referrals,
    routing_attempts,
    timers,
)
from mpa_referral.adapters.write_buffer import WriteBuffer

CASES = int(os.environ.get("BENCH_CASES", "20"))
NEEDS = 2
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))


def case_rows() -> list[dict[str, Any]]:
    return [
        {
            "case_id": uuid.uuid4(),
            "case_reference": f"MPA-2026-{i:06d}",
            "correlation_id": uuid.uuid4(),
            "age_band": "24-26",
            "sex": "female",
            "nationality": "NG",
            "languages": ["fr", "en"],
            "country": "QA",
            "admin_area": "QA-1",
            "vulnerabilities": [],
            "do_not_contact": False,
            "safe_contact_method": "phone_call",
            "status": "open",
        }
        for i in range(CASES)
    ]


def candidate() -> dict[str, Any]:
    return {
        "service_id": str(uuid.uuid4()),
        "partner_id": str(uuid.uuid4()),
        "rule": "eligible",
        "passed": True,
        "score": 0.73,
        "rank": 1,
        "components": {"distance": 0.5, "language": 1.0, "capacity": 0.4, "record": 0.7},
    }


def fill(buffer: WriteBuffer, case_ids: list[uuid.UUID]) -> int:
    """One batch's rows, as the repositories add them; returns how many."""
    now = datetime.now(UTC)
    rows = 0
    for case_id in case_ids:
        for _ in range(NEEDS):
            need_id, referral_id, partner_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            buffer.add(
                case_needs,
                {
                    "need_id": need_id,
                    "case_id": case_id,
                    "category": "shelter",
                    "urgency": "high",
                    "assistance_country": None,
                    "mandatory_rule": None,
                },
            )
            buffer.add(
                referrals,
                {
                    "id": referral_id,
                    "case_id": case_id,
                    "need_id": need_id,
                    "category": "shelter",
                    "urgency": "high",
                    "country": "QA",
                    "state": "routed",
                    "requested_by": "urn:mpa:service:intake",
                    "partner_id": partner_id,
                    "service_id": uuid.uuid4(),
                    "holds_capacity": True,
                    "attempt": 1,
                    "reroute_count": 0,
                    "mandatory_rule": None,
                    "chosen_service_id": None,
                    "consent_override_reason": None,
                    "routed_at": now,
                    "acceptance_due_at": now + timedelta(days=1),
                    "accepted_at": None,
                    "closed_at": None,
                    "status_reason": None,
                    "outcome": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            buffer.add(
                routing_attempts,
                {
                    "referral_id": referral_id,
                    "attempt": 1,
                    "decided_at": now,
                    "rule_set": "default-2026-01",
                    "partner_id": partner_id,
                    "service_id": uuid.uuid4(),
                    "candidates": [candidate() for _ in range(6)],
                },
            )
            buffer.add(
                referral_history,
                *(
                    {
                        "referral_id": referral_id,
                        "at": now,
                        "actor_id": "urn:mpa:service:intake",
                        "actor_role": "system",
                        "from_state": from_state,
                        "to_state": to_state,
                        "event_type": f"org.mpa.referral.{to_state}.v1",
                        "event_id": uuid.uuid4(),
                        "reason": None,
                        "partner_id": partner_id,
                        "note_sealed": None,
                    }
                    for from_state, to_state in ((None, "requested"), ("requested", "routed"))
                ),
            )
            buffer.add(
                timers,
                {
                    "id": uuid.uuid4(),
                    "kind": "referral.acceptance_sla",
                    "subject_id": referral_id,
                    "due_at": now + timedelta(days=1),
                    "payload": {"attempt": 1},
                },
            )
            rows += 6
    return rows


async def run(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    seeded = case_rows()
    async with engine.begin() as connection:
        await connection.execute(cases.insert(), seeded)
    case_ids = [c["case_id"] for c in seeded]
    cpu: list[float] = []
    wall: list[float] = []
    rows = 0
    for _ in range(ROUNDS):
        async with sessions() as session:
            await session.execute(text("SELECT 1"))  # the transaction is open already
            buffer = WriteBuffer(session)
            rows = fill(buffer, case_ids)
            began_cpu, began = time.process_time(), time.perf_counter()
            await buffer.flush()
            cpu.append(time.process_time() - began_cpu)
            wall.append(time.perf_counter() - began)
            await session.rollback()
    cpu, wall = cpu[10:], wall[10:]  # the first rounds prepare statements
    print(
        f"flush of {rows} rows ({CASES} cases x {NEEDS} needs), {len(cpu)} rounds: "
        f"CPU per flush mean {statistics.mean(cpu) * 1e3:.2f} ms, "
        f"median {statistics.median(cpu) * 1e3:.2f} ms "
        f"({statistics.median(cpu) / rows * 1e6:.1f} µs per row); "
        f"wall median {statistics.median(wall) * 1e3:.2f} ms"
    )


async def main() -> None:
    schema, engine = await directory_bench.empty_schema()
    try:
        await run(engine)
    finally:
        await directory_bench.drop_schema(schema, engine)


if __name__ == "__main__":
    asyncio.run(main())
