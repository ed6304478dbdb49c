"""Unit of work: one database transaction holding a state change and the events it causes.

Use cases and event handlers work through it: change state through the repositories a
service's subclass exposes, `emit` events, register `after_commit` callbacks, then `commit()`
once. Leaving the block without commit rolls everything back, events included, so nothing is
ever half-written; after-commit callbacks run only once the transaction is durable (waking a
worker before then would show it nothing).

`UnitOfWorkBase` is the storage-free part (events, callbacks), shared with the in-memory
fakes in `mpa_common.testing`; `UnitOfWork` is the SQLAlchemy one with the outbox.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from mpa_common.messaging.outbox import (
    CommitOrder,
    outbox_insert_sql,
    outbox_parameters,
    stage_events,
    with_current_trace,
)
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None] | None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutboxInsert:
    """A unit of work's pending events as an outbox INSERT (PER_KEY order: its per-key
    advisory locks taken before any row takes its position), for a caller to send as one
    data-modifying CTE of its own statement (see `UnitOfWork.commit_in_one_statement`)."""

    table: str
    # `outbox_insert_sql`'s `:named` parameters; a caller's own names must not clash.
    parameters: dict[str, Any]

    def sql(self, *, only_if: str | None = None) -> str:
        """The INSERT's text; `only_if` an SQL condition without which it writes nothing
        (e.g. `EXISTS (SELECT 1 FROM recorded)`, a sibling CTE)."""
        return outbox_insert_sql(self.table, locked=True, only_if=only_if)


FinalWrite = Callable[[AsyncConnection, OutboxInsert | None], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Cause:
    """The story an event belongs to (correlation) and the event that caused it, if any.

    `Cause()` starts a new story: the event's correlation id is then its own id.
    """

    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> Cause:
        """The cause for events emitted while handling `envelope`."""
        return cls(envelope.correlation_id, envelope.id)

    @classmethod
    def story(cls, correlation_id: uuid.UUID | None) -> Cause:
        """Continues a story without a causing event (e.g. a request about a case)."""
        return cls(correlation_id, None)


class UnitOfWorkBase:
    """Events and after-commit callbacks; subclasses provide the transaction."""

    def __init__(self, *, source: str) -> None:
        self.source = source
        self._pending: list[Envelope] = []
        self._after_commit: list[AfterCommit] = []

    def emit(
        self,
        data: EventData,
        *,
        cause: Cause | None = None,
        subject: str | None = None,
        key: uuid.UUID | None = None,
    ) -> Envelope:
        """Builds the event's envelope (this service as its source) and queues it for the
        outbox; returns it, so a caller can name it as the cause of further events."""
        cause = cause or Cause()
        envelope = new_envelope(
            data,
            source=self.source,
            subject=subject,
            key=key,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
        )
        # Stamped now, inside the span of the work that caused it (a consumer commits a
        # batch after its events' spans have ended).
        traced = with_current_trace(envelope)
        self._pending.append(traced)
        return traced

    def emit_envelope(self, *envelopes: Envelope) -> None:
        """Queues envelopes built elsewhere; they are written by `commit`, in this order."""
        self._pending.extend(with_current_trace(envelope) for envelope in envelopes)

    def after_commit(self, callback: AfterCommit) -> None:
        """Runs `callback` once this unit of work has committed (never on rollback)."""
        self._after_commit.append(callback)

    @property
    def pending_events(self) -> tuple[Envelope, ...]:
        return tuple(self._pending)

    def _reset(self) -> None:
        self._pending = []
        self._after_commit = []

    async def _run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # the commit stands; a failed side effect is only logged
                log.exception("after-commit callback failed")


class UnitOfWork(UnitOfWorkBase):
    """A SQLAlchemy session and the service's outbox; subclasses add repositories in
    `_bind` (called with the new session at the start of every `async with`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        *,
        source: str,
        topic_prefix: str = "",
        commit_order: CommitOrder = CommitOrder.TABLE,
    ) -> None:
        super().__init__(source=source)
        self._sessions = sessions
        self._outbox = outbox
        self._topic_prefix = topic_prefix
        self._commit_order = commit_order
        self._session: AsyncSession | None = None
        self._outside_transaction = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    def _bind(self, session: AsyncSession) -> None:
        """Hook for subclasses: build the repositories over `session`."""

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self._outside_transaction = False
        self._reset()
        self._bind(self._session)
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
            self._reset()

    async def commit(self) -> None:
        if self._outside_transaction:
            # Its statements committed one by one: there is no transaction to commit.
            raise RuntimeError("a unit of work outside a transaction commits in one statement")
        await stage_events(
            self.session,
            self._outbox,
            self._pending,
            topic_prefix=self._topic_prefix,
            commit_order=self._commit_order,
        )
        await self.session.commit()
        self._pending = []
        await self._run_after_commit()

    async def autocommit_connection(self) -> AsyncConnection:
        """The session's connection outside any transaction block: each statement on it is
        its own transaction (no BEGIN, no COMMIT round trips). For a unit of work whose
        reads come before one final write (`commit_in_one_statement`). RuntimeError when
        the session has begun a transaction already (its work would be committed piecemeal
        otherwise)."""
        session = self.session
        if not session.in_transaction():
            self._outside_transaction = True
            return await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        connection = await session.connection()
        options = (
            connection.sync_connection.get_execution_options() if connection.sync_connection else {}
        )
        if options.get("isolation_level") != "AUTOCOMMIT":
            raise RuntimeError("this unit of work has begun a transaction")
        return connection

    async def commit_in_one_statement(self, write: FinalWrite[T]) -> T:
        """Commits the unit of work as ONE statement in its own implicit transaction:
        `write` is given the session's autocommit connection (`autocommit_connection`) and
        the pending events' outbox insert (None when there are none), and sends its final
        write with that insert as one of the statement's CTEs; the statement commits as it
        ends, so they are durable together or not at all (an error — the database's
        deferred constraints included, which run at that commit — comes out of `write`,
        and nothing is written). Then, as `commit`: the pending events are cleared and the
        after-commit callbacks run. Returns what `write` returns.

        Only the `PER_KEY` commit order folds into a statement (`TABLE` takes its lock in
        a statement of its own), and nothing before may have begun a transaction."""
        if self._commit_order is not CommitOrder.PER_KEY:
            raise RuntimeError("only the PER_KEY commit order commits in one statement")
        connection = await self.autocommit_connection()
        outbox = (
            OutboxInsert(
                self._outbox.name,
                outbox_parameters(self._pending, topic_prefix=self._topic_prefix, locked=True),
            )
            if self._pending
            else None
        )
        result = await write(connection, outbox)
        await self.session.commit()  # the session's bookkeeping: no round trip in autocommit
        self._pending = []
        await self._run_after_commit()
        return result


UnitOfWorkFactory = Callable[[], UnitOfWork]
