"""In-memory stand-ins for fast use-case tests (no database, no broker).

A service's fake unit of work subclasses `InMemoryUnitOfWork` and binds fake repositories in
`_bind`; `_rollback` lets them drop what an uncommitted block changed, so a fake behaves like
the transaction it replaces.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from mpa_common.uow import UnitOfWorkBase
from mpa_contracts.envelope import Envelope


class InMemoryUnitOfWork(UnitOfWorkBase):
    def __init__(self, *, source: str = "urn:mpa:service:test") -> None:
        super().__init__(source=source)
        self.committed_events: list[Envelope] = []
        self.commits = 0
        self._committed_this_block = False

    def _bind(self) -> None:
        """Hook: begin a block (e.g. snapshot the fake repositories)."""

    def _rollback(self) -> None:
        """Hook: undo what the block changed without committing."""

    async def __aenter__(self) -> Self:
        self._reset()
        self._committed_this_block = False
        self._bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed_this_block:
            self._rollback()
        self._reset()

    async def commit(self) -> None:
        self.committed_events.extend(self._pending)
        self._pending = []
        self.commits += 1
        self._committed_this_block = True
        await self._run_after_commit()

    def events_of(self, event_class: type) -> list[Envelope]:
        """The committed events whose payload is an `event_class`."""
        return [e for e in self.committed_events if isinstance(e.data, event_class)]
