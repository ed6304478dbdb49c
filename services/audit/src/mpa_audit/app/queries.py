"""Use cases: reading the log (events by filter, one event, a case's timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from mpa_audit.app.ports import EventFilter, StoredEntry, UnitOfWorkFactory
from mpa_audit.domain.errors import EventNotFound, InvalidCursor

MAX_SEQ = 2**63 - 1
"""Seqs are PostgreSQL bigints: a cursor or seq beyond them names nothing."""


@dataclass(frozen=True, slots=True)
class EventPage:
    entries: list[StoredEntry]
    next_cursor: str | None


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or int(cursor) > MAX_SEQ:
        raise InvalidCursor()
    return int(cursor)


async def find_events(
    uow_factory: UnitOfWorkFactory,
    conditions: EventFilter,
    *,
    cursor: str | None,
    limit: int,
) -> EventPage:
    """A page of matching events in log order; ``next_cursor`` continues after it."""
    after = _decode_cursor(cursor)
    async with uow_factory() as uow:
        entries = await uow.log.find_entries(conditions, after=after, limit=limit + 1)
    more = len(entries) > limit
    page = entries[:limit]
    return EventPage(page, str(page[-1].seq) if more else None)


async def get_event(uow_factory: UnitOfWorkFactory, seq: int) -> StoredEntry:
    if not 0 <= seq <= MAX_SEQ:
        raise EventNotFound(seq)
    async with uow_factory() as uow:
        entry = await uow.log.entry(seq)
    if entry is None:
        raise EventNotFound(seq)
    return entry


async def case_timeline(
    uow_factory: UnitOfWorkFactory, case_id: UUID, *, limit: int
) -> list[StoredEntry]:
    async with uow_factory() as uow:
        return await uow.log.case_timeline(case_id, limit=limit)
