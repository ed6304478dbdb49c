"""The intake unit of work on PostgreSQL: one transaction, its repositories and its outbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from mpa_common.messaging.outbox import CommitOrder
from mpa_common.uow import OutboxInsert, UnitOfWork
from mpa_intake.adapters.case_store import SqlCaseRepository
from mpa_intake.adapters.casework_store import SqlCaseworkRepository, SqlTimerRepository
from mpa_intake.adapters.grant_store import SqlGrantRepository
from mpa_intake.adapters.idempotency_store import SqlIdempotencyRepository
from mpa_intake.adapters.psea_store import SqlPseaComplaintRepository
from mpa_intake.adapters.reference_counter import REFERENCE_SPACE_EXHAUSTED, SqlReferenceCounter
from mpa_intake.adapters.tables import outbox
from mpa_intake.app.context import EVENT_SOURCE
from mpa_intake.app.ports import (
    KeyedResponse,
    ReferenceSpaceExhausted,
    Registered,
    SealedPersonalData,
)
from mpa_intake.domain.case import Case
from mpa_intake.domain.matching import MatchKind


class IntakeUnitOfWork(UnitOfWork):
    """`ports.IntakeUnitOfWorkPort` on one SQLAlchemy session (a new one per `async with`)."""

    cases: SqlCaseRepository
    references: SqlReferenceCounter
    idempotency: SqlIdempotencyRepository
    grants: SqlGrantRepository
    casework: SqlCaseworkRepository
    timers: SqlTimerRepository
    psea: SqlPseaComplaintRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table = outbox,
        *,
        source: str = EVENT_SOURCE,
        topic_prefix: str = "",
        commit_order: CommitOrder = CommitOrder.PER_KEY,
    ) -> None:
        # The shape of UnitOfWork's, so ServiceContext.units_of_work builds it. Per-key
        # commit order: only writers of the same case queue on the outbox (see
        # mpa_common.messaging.outbox.CommitOrder); concurrent reads of different cases
        # announce themselves side by side instead of one after another.
        super().__init__(
            sessions, outbox, source=source, topic_prefix=topic_prefix, commit_order=commit_order
        )

    async def commit(self) -> None:
        try:
            await super().commit()
        except DBAPIError as error:
            _raise_exhausted(error)
            raise

    async def without_transaction(self) -> None:
        await self.autocommit_connection()

    async def commit_registration(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> Registered:
        """One statement, its own transaction: the case's rows, its possible duplicates,
        the idempotency record and the pending events' outbox rows (see
        `SqlCaseRepository.add_in_one_statement`)."""

        async def write(connection: AsyncConnection, outbox: OutboxInsert | None) -> Registered:
            return Registered(
                *await self.cases.add_in_one_statement(
                    connection,
                    case,
                    sealed,
                    match_keys=match_keys,
                    first_response=first_response,
                    outbox=outbox,
                )
            )

        try:
            return await self.commit_in_one_statement(write)
        except DBAPIError as error:
            _raise_exhausted(error)
            raise

    def _bind(self, session: AsyncSession) -> None:
        self.cases = SqlCaseRepository(session)
        self.references = SqlReferenceCounter(session)
        self.idempotency = SqlIdempotencyRepository(session)
        self.grants = SqlGrantRepository(session)
        self.casework = SqlCaseworkRepository(session)
        self.timers = SqlTimerRepository(session)
        self.psea = SqlPseaComplaintRepository(session)


def _raise_exhausted(error: DBAPIError) -> None:
    # Raised by the reference trigger at the commit (reference_counter.py).
    if getattr(error.orig, "sqlstate", None) == REFERENCE_SPACE_EXHAUSTED:
        raise ReferenceSpaceExhausted("no case reference left this year") from None


def unit_of_work_factory(
    sessions: async_sessionmaker[AsyncSession],
    *,
    topic_prefix: str = "",
    commit_order: CommitOrder = CommitOrder.PER_KEY,
) -> Callable[[], IntakeUnitOfWork]:
    """What the use cases are given: a new unit of work per call."""

    def new() -> IntakeUnitOfWork:
        return IntakeUnitOfWork(sessions, topic_prefix=topic_prefix, commit_order=commit_order)

    return new
