"""Case events through the referral service's handler, on the real PostgreSQL (`make bench`).

Registers fictional cases (1 to 3 needs each, consent to referral) as the case consumer
does: the event id into the ledger, the handler (read model, mandatory rules, routing with
a place reserved under the row lock, the referral, its explanation, history, SLA timer and
events), one commit. Once with one case per transaction, then with batches of cases per
transaction as the batching consumer runs them, against the 10,000-service directory of
bench_routing.py in a private schema.
Prints cases and needs per second and the time per case. Measured on this 2-core machine
(load 9-12 from other work) beside main's handler (a directory read per need, one row
written per statement), same runs: main 17-30 cases/s whether one or 20 cases share a
transaction; here 50-61 cases/s one per transaction, 92-116 with 20 per transaction.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import bench_routing as directory_bench
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.case import CaseRegisteredV1
from mpa_contracts.vocabularies import NeedCategory, Urgency
from mpa_referral.adapters.directory_snapshot import DirectorySnapshot
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.tables import processed_events
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.app.common import ReferralContext
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.main import referral_policy
from mpa_referral.settings import ReferralSettings
from mpa_referral.testing import INTAKE, registered

CASES = int(os.environ.get("BENCH_CASES", "300"))
BATCHES = (1, 20)
rng = random.Random(11)


def case_event() -> Envelope:
    country = rng.choice(directory_bench.COUNTRIES)
    needs = [(c, Urgency.HIGH) for c in rng.sample(list(NeedCategory), rng.randint(1, 3))]
    return new_envelope(registered(country, needs), source=INTAKE)


class Referral(NamedTuple):
    sessions: async_sessionmaker[Any]
    snapshot: DirectorySnapshot
    units_of_work: Callable[[], ReferralUnitOfWork]
    handlers: CaseEventHandlers


def referral_on(engine: AsyncEngine) -> Referral:
    """The referral service's units of work and case handlers over `engine`, as its
    composition root builds them (one directory snapshot, a throwaway notes key)."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    snapshot = DirectorySnapshot()
    notes = NoteCipher(os.urandom(32))

    def units_of_work() -> ReferralUnitOfWork:
        return ReferralUnitOfWork(
            sessions, source="urn:mpa:service:referral", snapshot=snapshot, notes=notes
        )

    handlers = CaseEventHandlers(
        ReferralContext(units_of_work, referral_policy(ReferralSettings()))
    )
    return Referral(sessions, snapshot, units_of_work, handlers)


async def run(engine: AsyncEngine, events: Sequence[Envelope], batch: int) -> None:
    sessions, snapshot, units_of_work, handlers = referral_on(engine)
    # A running service loads its snapshot once, at start-up: not part of the figures.
    async with sessions() as session:
        await snapshot.catch_up(session)
    per_case: list[float] = []
    started = time.perf_counter()
    for offset in range(0, len(events), batch):
        chunk = events[offset : offset + batch]
        began = time.perf_counter()
        async with units_of_work() as uow:
            for index, envelope in enumerate(chunk):
                # The consumer's ledger row for the event, in the same transaction.
                await uow.session.execute(
                    insert(processed_events)
                    .values(consumer="bench", event_id=envelope.id, event_type=envelope.type)
                    .on_conflict_do_nothing()
                )
                assert isinstance(envelope.data, CaseRegisteredV1)
                origin = RecordOrigin("mpa.case.v1", 0, offset + index, 0)
                await handlers.on_case_registered(uow, envelope.data, Delivery(envelope, origin))
            await uow.commit()
        per_case.extend([(time.perf_counter() - began) / len(chunk)] * len(chunk))
    total = time.perf_counter() - started
    needs = sum(len(e.data.needs) for e in events if isinstance(e.data, CaseRegisteredV1))
    p99 = directory_bench.percentile(per_case, 0.99)
    print(
        f"{batch:>3} case(s) per transaction   {len(events) / total:>7,.0f} cases/s"
        f"   {needs / total:>7,.0f} needs/s   per case p50 {statistics.median(per_case) * 1e3:6.2f}"
        f" ms   p99 {p99 * 1e3:6.2f} ms"
    )


async def main() -> None:
    listings, _, types = directory_bench.directory()
    schema, engine = await directory_bench.seeded_schema(listings, types)
    try:
        print(f"{CASES} cases per run, {len(listings):,} services in the directory")
        for batch in BATCHES:
            await run(engine, [case_event() for _ in range(CASES)], batch)
    finally:
        await directory_bench.drop_schema(schema, engine)


if __name__ == "__main__":
    asyncio.run(main())
