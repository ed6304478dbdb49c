"""case.registered through the case consumer's own transaction, on the real PostgreSQL
(`make bench`): what one batch sends and what it costs this process.

The consumer's `_transaction` (ledger claim, handler, commit) runs for batches of
BENCH_BATCH (1) case registrations like the e2e bench's (one shelter need, consent to
referral) against a directory like its own (one partner, one service in the country
that does not count its places) in a private schema. Prints every statement one batch
sends (`BENCH_SHOW=1`), the statements per case (BEGIN and COMMIT included), and this
process's CPU time per case (time.process_time: what the service's own core spends).

Measured on the shared 2-core machine (load 9-14), b455526 and f392166 run in turn, three
rounds: 1 case per transaction 9.0 -> 6.0 statements per case, CPU per case p50
3.9-5.1 -> 2.7-3.2 ms; 2 per transaction 5.5 -> 4.0 statements, 3.0-3.5 -> 1.8-2.1 ms.
What one case sends now: BEGIN, the ledger claim, the case upsert with the directory
catch-up, the place (FOR SHARE), the write buffer with the outbox rows, COMMIT.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from typing import Any

import bench_routing as directory_bench
from bench_case_events import referral_on
from sqlalchemy import event

from mpa_common.messaging.consumer import EventConsumer, _Lane
from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import new_envelope
from mpa_contracts.vocabularies import NeedCategory, Urgency
from mpa_referral.adapters.tables import partners, processed_events, services
from mpa_referral.testing import INTAKE, registered

CASES = int(os.environ.get("BENCH_CASES", "400"))
BATCH = int(os.environ.get("BENCH_BATCH", "1"))
SHOW = os.environ.get("BENCH_SHOW") == "1"
COUNTRY = "NE"


async def main() -> None:
    schema, engine = await directory_bench.empty_schema(pool_size=4)
    partner_id, service_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            partners.insert(),
            {
                "id": partner_id,
                "code": "BENCH",
                "name": "Bench",
                "partner_type": "civil_society_organisation",
                "countries": [COUNTRY],
            },
        )
        await connection.execute(
            services.insert(),
            {
                "id": service_id,
                "partner_id": partner_id,
                "name": "Bench shelter",
                "category": NeedCategory.SHELTER.value,
                "status": "active",
                "coverage": [{"country": COUNTRY, "admin_areas": []}],
                "coverage_countries": [COUNTRY],
                "languages": ["fr"],
                "sexes": [],
                "nationalities_served": [],
                "nationalities_excluded": [],
                "vulnerabilities_required": [],
                "vulnerability_focus": [],
            },
        )
    referral = referral_on(engine)
    units_of_work, handlers = referral.units_of_work, referral.handlers
    consumer = EventConsumer(
        handlers.subscription(),
        unit_of_work=units_of_work,
        processed=processed_events,
        kafka_options={},
        client_id="bench",
    )
    lane = _Lane("bench", asyncio.Event())
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def count_begin(conn: Any) -> None:
        statements.append("BEGIN")

    def count_commit(conn: Any) -> None:
        statements.append("COMMIT")

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    event.listen(engine.sync_engine, "begin", count_begin)
    event.listen(engine.sync_engine, "commit", count_commit)

    def deliveries(n: int, offset: int) -> list[Delivery]:
        need = [(NeedCategory.SHELTER, Urgency.MEDIUM)]
        return [
            Delivery(
                new_envelope(registered(COUNTRY, need), source=INTAKE),
                RecordOrigin("mpa.case.v1", 0, offset + i, 0),
            )
            for i in range(n)
        ]

    try:
        await consumer._transaction(deliveries(BATCH, 0), lane)  # warm: snapshot, prepares
        statements.clear()
        await consumer._transaction(deliveries(BATCH, BATCH), lane)
        if SHOW:
            for statement in statements:
                print("  ", " ".join(statement.split())[:160])
        per_batch = len(statements)
        cpu: list[float] = []
        for offset in range(2 * BATCH, CASES, BATCH):
            batch = deliveries(BATCH, offset)
            began = time.process_time()
            await consumer._transaction(batch, lane)
            cpu.append((time.process_time() - began) / BATCH)
        print(
            f"{BATCH} case(s) per transaction: {per_batch / BATCH:.1f} statements per case; "
            f"CPU per case p50 {statistics.median(cpu) * 1e3:.3f} ms, "
            f"mean {statistics.mean(cpu) * 1e3:.3f} ms"
        )
    finally:
        await directory_bench.drop_schema(schema, engine)


if __name__ == "__main__":
    asyncio.run(main())
