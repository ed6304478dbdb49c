"""Human case references on PostgreSQL: one counter row per year, gap-free.

The number is taken by a deferred constraint trigger on `cases` (migration intake_0008), so
inside COMMIT: the counter row's lock, which queues every registration of the year, is held
only while the server finishes that commit, not across the registering process's round
trips and scheduling. The case is inserted under a placeholder reference that no other
transaction can see (`pending_reference`); the trigger replaces it, and the placeholder in
the registration event staged in the outbox, with the number. A transaction that rolls back
never reaches the trigger, and one whose commit fails gives the number back.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.prebuilt import Prebuilt

# The SQLSTATE the trigger raises when a year has no number left (see intake_0008).
REFERENCE_SPACE_EXHAUSTED = "MPA01"


_REFERENCE = Prebuilt("SELECT reference FROM cases WHERE case_id = :case_id")


def pending_reference(case_id: UUID) -> str:
    """What a case's reference column holds until its commit (unique, never committed)."""
    return f"~{case_id.hex[:19]}"


class SqlReferenceCounter:
    """`ports.ReferenceCounter` on PostgreSQL."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def assigned(self, case_id: UUID) -> str:
        parameters = {"case_id": case_id}
        if self._session.in_transaction():
            reference = (await _REFERENCE.execute(self._session, parameters)).scalar()
        else:
            # Read after the commit, outside any transaction: one round trip, not BEGIN,
            # SELECT and ROLLBACK (a committed row needs no transaction to be read).
            connection = await self._session.connection(
                execution_options={"isolation_level": "AUTOCOMMIT"}
            )
            reference = (await _REFERENCE.execute_on(connection, parameters)).scalar()
        if reference is None or reference.startswith("~"):
            raise LookupError(f"case {case_id} has no committed reference")
        return str(reference)
