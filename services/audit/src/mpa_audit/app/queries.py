"""Use cases: reading the log (events by filter, one event, a case's timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import EventFilter, LogStore, StoredEntry
from mpa_common.problems import Problem


@dataclass(frozen=True, slots=True)
class EventPage:
    entries: list[StoredEntry]
    next_cursor: str | None


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise Problem(422, "Invalid cursor", "cursor must be a value returned as next_cursor")
    return int(cursor)


async def find_events(
    sessions: async_sessionmaker[AsyncSession],
    conditions: EventFilter,
    *,
    cursor: str | None,
    limit: int,
) -> EventPage:
    """A page of matching events in log order; ``next_cursor`` continues after it."""
    after = _decode_cursor(cursor)
    async with sessions() as session:
        entries = await LogStore(session).find_entries(conditions, after=after, limit=limit + 1)
    more = len(entries) > limit
    page = entries[:limit]
    return EventPage(page, str(page[-1].seq) if more else None)


async def get_event(sessions: async_sessionmaker[AsyncSession], seq: int) -> StoredEntry:
    async with sessions() as session:
        entry = await LogStore(session).entry(seq)
    if entry is None:
        raise Problem(404, "Not found", f"no event with seq {seq} in the log")
    return entry


async def case_timeline(
    sessions: async_sessionmaker[AsyncSession], case_id: UUID, *, limit: int
) -> list[StoredEntry]:
    async with sessions() as session:
        return await LogStore(session).case_timeline(case_id, limit=limit)
