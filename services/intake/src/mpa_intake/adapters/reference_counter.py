"""Human case references on PostgreSQL: one counter row per year, gap-free.

The counter is incremented inside the registering transaction, so a registration that
rolls back gives its number back, and the row lock queues concurrent registrations of the
year from that statement until their commit. That queue is every registration's critical
section, so it is kept short: the case and its children are written before (under a
placeholder reference that no other transaction can see), and one statement then takes the
number and sets it on the case.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import String, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.tables import case_reference_counters, cases
from mpa_intake.app.ports import MAX_REFERENCE_NUMBER, ReferenceSpaceExhausted


def pending_reference(case_id: UUID) -> str:
    """What a case's reference column holds until `assign` (unique, never committed)."""
    return f"~{case_id.hex[:19]}"


class SqlReferenceCounter:
    """`ports.ReferenceCounter` on PostgreSQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def assign(self, case_id: UUID, year: int) -> str:
        counter = case_reference_counters.c
        taken = (
            pg_insert(case_reference_counters)
            .values(year=year, last_number=1)
            .on_conflict_do_update(
                index_elements=[counter.year], set_={"last_number": counter.last_number + 1}
            )
            .returning(counter.last_number)
            .cte("taken")
        )
        reference = func.concat(
            literal(f"MPA-{year:04d}-"), func.lpad(cast(taken.c.last_number, String), 6, "0")
        )
        statement = (
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(reference=select(reference).scalar_subquery())
            .returning(cases.c.reference, select(taken.c.last_number).scalar_subquery())
        )
        row = (await self._session.execute(statement)).one()
        if int(row[1]) > MAX_REFERENCE_NUMBER:
            raise ReferenceSpaceExhausted(f"no case reference left for {year}")
        return str(row[0])
