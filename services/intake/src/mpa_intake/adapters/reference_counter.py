"""Human case references on PostgreSQL: one counter row per year, gap-free.

The counter is incremented inside the registering transaction, so a registration that
rolls back gives its number back, and the row lock queues concurrent registrations of the
year from that statement until their commit. The registration takes it as late as it can
(after its reads and its idempotency check) to keep that queue short.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.tables import case_reference_counters
from mpa_intake.app.ports import MAX_REFERENCE_NUMBER, ReferenceSpaceExhausted


class SqlReferenceCounter:
    """`ports.ReferenceCounter` on PostgreSQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_reference(self, year: int) -> str:
        statement = (
            pg_insert(case_reference_counters)
            .values(year=year, last_number=1)
            .on_conflict_do_update(
                index_elements=[case_reference_counters.c.year],
                set_={"last_number": case_reference_counters.c.last_number + 1},
            )
            .returning(case_reference_counters.c.last_number)
        )
        number = int((await self._session.execute(statement)).scalar_one())
        if number > MAX_REFERENCE_NUMBER:
            raise ReferenceSpaceExhausted(f"no case reference left for {year}")
        return f"MPA-{year:04d}-{number:06d}"
