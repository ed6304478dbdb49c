"""The referral service's unit of work: one transaction over its repositories and outbox,
with the directory snapshot seen through that transaction (app/ports.py: UnitOfWorkPort).
`timer_scheduled` hears the due time of every timer the transaction scheduled once it has
committed (the composition root wakes this process's timer worker with it).

Commit order (mpa_common.messaging.outbox.CommitOrder): a transaction that emits directory
events writes the outbox in `TABLE` order, since the directory snapshot tails the outbox's
positions (adapters/directory_snapshot.py); every other one in `PER_KEY` order, its outbox
rows in the statement that flushes its write buffer. That keeps the tail sound: the
directory writer's exclusive lock waits for every transaction that inserted outbox rows
before it and holds back every later one, so when a directory event is seen every lower
position is committed, and a later row takes a higher position than any directory event
committed before it. Per key, order is kept either way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.messaging.outbox import outbox_parameters
from mpa_common.uow import UnitOfWork
from mpa_referral.adapters.case_repository import SqlCaseRepository
from mpa_referral.adapters.directory_repository import SqlDirectoryRepository
from mpa_referral.adapters.directory_snapshot import DirectorySnapshot, DirectoryView
from mpa_referral.adapters.feedback_repository import SqlFeedbackRepository
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.referral_repository import SqlReferralRepository
from mpa_referral.adapters.report_repository import SqlReportRepository
from mpa_referral.adapters.tables import DIRECTORY_EVENT_PREFIX, outbox
from mpa_referral.adapters.timer_repository import SqlTimerRepository
from mpa_referral.adapters.write_buffer import WriteBuffer


class ReferralUnitOfWork(UnitOfWork):
    cases: SqlCaseRepository
    referrals: SqlReferralRepository
    directory: SqlDirectoryRepository
    timers: SqlTimerRepository
    reports: SqlReportRepository
    feedback: SqlFeedbackRepository

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        source: str,
        snapshot: DirectorySnapshot,
        notes: NoteCipher,
        topic_prefix: str = "",
        timer_scheduled: Callable[[datetime], None] | None = None,
    ) -> None:
        super().__init__(sessions, outbox, source=source, topic_prefix=topic_prefix)
        self._snapshot = snapshot
        self._notes = notes
        self._timer_scheduled = timer_scheduled

    def _bind(self, session: AsyncSession) -> None:
        view = DirectoryView(self._snapshot, session)
        self._buffer = buffer = WriteBuffer(session)
        self.cases = SqlCaseRepository(session, buffer, view)
        self.referrals = SqlReferralRepository(
            session, self._notes, buffer, on_record_changed=view.answered
        )
        self.directory = SqlDirectoryRepository(session, view)
        self.timers = SqlTimerRepository(session, buffer, self._scheduled)
        self.reports = SqlReportRepository(session, buffer)
        self.feedback = SqlFeedbackRepository(session)
        # The snapshot takes what this transaction alone knows only once it is durable.
        self.after_commit(view.committed)

    def _scheduled(self, due_at: datetime) -> None:
        # Told only once durable: a worker woken before the commit would not see the timer.
        if self._timer_scheduled is not None:
            self.after_commit(functools.partial(self._timer_scheduled, due_at))

    async def flush(self) -> None:
        """Sends the rows the repositories hold back (see adapters/write_buffer.py)."""
        await self._buffer.flush()

    async def commit(self) -> None:
        pending = self._pending
        if not pending or any(e.type.startswith(DIRECTORY_EVENT_PREFIX) for e in pending):
            await self.flush()
            await super().commit()  # TABLE order: LOCK TABLE, then the rows
            return
        await self._buffer.flush(
            outbox=outbox_parameters(pending, topic_prefix=self._topic_prefix, locked=True)
        )
        await self.session.commit()
        self._pending = []
        await self._run_after_commit()
