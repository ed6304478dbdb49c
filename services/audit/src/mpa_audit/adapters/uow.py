"""The audit's unit of work on PostgreSQL: one session, the log's repository bound to it
(`ServiceContext.units_of_work(outbox, AuditUnitOfWork)` builds them)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mpa_audit.adapters.log_store import LogStore
from mpa_common.uow import UnitOfWork


class AuditUnitOfWork(UnitOfWork):
    _log: LogStore | None = None

    @property
    def log(self) -> LogStore:
        if self._log is None:
            raise RuntimeError("AuditUnitOfWork used outside `async with`")
        return self._log

    def _bind(self, session: AsyncSession) -> None:
        self._log = LogStore(session)
