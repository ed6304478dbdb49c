"""Unit of work: one database transaction holding a state change and the events it causes.

Use cases and event handlers work through it: load and change rows via `session`, `emit`
events, then `commit()` once. Leaving the block without commit rolls everything back, events
included, so nothing is ever half-written.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.messaging.outbox import stage_events
from mpa_contracts.envelope import Envelope


class UnitOfWork:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], outbox: Table, *, topic_prefix: str = ""
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._topic_prefix = topic_prefix
        self._pending: list[Envelope] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self._pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None
            self._pending = []

    def emit(self, *envelopes: Envelope) -> None:
        """Queues events; they are written to the outbox by `commit`, in this order."""
        self._pending.extend(envelopes)

    @property
    def pending_events(self) -> tuple[Envelope, ...]:
        return tuple(self._pending)

    async def commit(self) -> None:
        await stage_events(
            self.session, self._outbox, self._pending, topic_prefix=self._topic_prefix
        )
        await self.session.commit()
        self._pending = []
