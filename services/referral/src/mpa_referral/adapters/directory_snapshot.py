"""The directory routing reads, held in memory: no database read per need.

One `DirectorySnapshot` per process holds every partner and service as routing sees them,
indexed by (need category, country), and the partners' track records. It is kept current
from the directory's own events: before the first directory read of every unit of work it
catches up on the directory events committed to the outbox since the last position it
applied (one indexed query; up to the highest position it sees, every directory event
is committed: directory events are written in `TABLE` commit order, see adapters/uow.py
and `mpa_common.messaging.outbox.CommitOrder`), and reloads the partners and services
they name. So it changes only from committed data, and every replica sees every replica's
changes before it routes again.

What it cannot learn from events it re-reads now and then: the places other replicas took
or gave back (every `capacity_refresh_seconds`, only the services whose places changed
lately) and track records (every `records_refresh_seconds`, only partners answered lately;
at once for the answers this process committed). A place count is only a hint for routing:
the database row lock in `reserve_place` decides who gets the last place. Everything is
read afresh after `full_reload_seconds` without a catch-up (an idle process), and at the
first use.

`DirectoryView` is the snapshot as one unit of work sees it: overlaid with the directory
changes and the reservations of that unit of work itself (read from its own session), so
routing inside a transaction that changed the directory sees those changes, and the
snapshot takes them only once they are committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, func, null, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from mpa_contracts.vocabularies import NeedCategory, PartnerType, Urgency
from mpa_referral.adapters.tables import (
    DIRECTORY_EVENTS_PREDICATE,
    outbox,
    partners,
    routing_attempts,
    services,
)
from mpa_referral.domain.directory import (
    DesignationRole,
    PartnerListing,
    ServiceListing,
    listing_of,
)
from mpa_referral.domain.lifecycle import DECIDED_RESPONSES, AttemptResponse
from mpa_referral.domain.routing import PartnerRecord

Pool = dict[uuid.UUID, ServiceListing]
PoolKey = tuple[NeedCategory, str]

# A statement that rides along with a catch-up (see `DirectoryView.current_with`): an
# insert returning one row of one column.
Riding = ReturningInsert[Any]
_DIRECTORY_EVENTS: dict[Riding | None, Executable] = {}


def _directory_events(riding: Riding | None = None) -> Executable:
    """Directory events after a position (`after`), and where the outbox ends, in one
    statement; with `riding` too, as a data-modifying WITH (run once, whatever reads it),
    its value a fourth column of the end row."""
    found = _DIRECTORY_EVENTS.get(riding)
    if found is not None:
        return found
    o = outbox.c
    data = o.envelope["data"]
    events = (
        select(o.position, data["partner_id"].astext, data["service_id"].astext)
        .where(o.position > bindparam("after"))
        # As text, not a parameter: so PostgreSQL sees ix_outbox_directory_events serves it.
        .where(text(DIRECTORY_EVENTS_PREDICATE))
    )
    end = select(func.max(o.position), null(), null())
    if riding is None:
        found = union_all(events, end)
    else:
        ridden = riding.cte("riding")
        found = union_all(
            events.add_columns(null()),
            end.add_columns(select(*ridden.c).scalar_subquery()),
        ).add_cte(ridden)
    _DIRECTORY_EVENTS[riding] = found
    return found


_PLACES_CHANGED = text(
    """
    SELECT id, capacity_available FROM services
    WHERE capacity_available IS NOT NULL
      AND capacity_updated_at > now() - make_interval(secs => :window)
    """
)
_ANSWERED_LATELY = text(
    """
    SELECT DISTINCT partner_id FROM routing_attempts
    WHERE partner_id IS NOT NULL AND responded_at > now() - make_interval(secs => :window)
    """
)
# A transaction that took a place may commit a while after it started (its timestamp).
_LATE_COMMIT_MARGIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _ServiceEntry:
    listing: ServiceListing
    sla_hours: Mapping[Urgency, int]
    keys: tuple[PoolKey, ...]


def _entry_of(row: Mapping[Any, Any], partner: PartnerListing) -> _ServiceEntry:
    listing = listing_of(row, partner)
    return _ServiceEntry(
        listing,
        {Urgency(k): int(v) for k, v in row["sla_hours"].items()},
        tuple((listing.category, area.country) for area in listing.coverage),
    )


async def _records(
    session: AsyncSession, partner_ids: Collection[uuid.UUID] | None
) -> dict[uuid.UUID, PartnerRecord]:
    """Track records over every answer so far (of `partner_ids`, or of every partner)."""
    a = routing_attempts.c
    response_seconds = func.extract("epoch", a.responded_at - a.decided_at)
    query = (
        select(
            a.partner_id,
            func.count().filter(a.response == AttemptResponse.ACCEPTED.value),
            func.count().filter(a.response.in_([r.value for r in DECIDED_RESPONSES])),
            func.percentile_cont(0.5)
            .within_group(response_seconds)
            .filter(
                a.response.in_((AttemptResponse.ACCEPTED.value, AttemptResponse.DECLINED.value))
            ),
        )
        .where(a.partner_id.is_not(None))
        .group_by(a.partner_id)
    )
    if partner_ids is not None:
        query = query.where(a.partner_id.in_(list(partner_ids)))
    found: dict[uuid.UUID, PartnerRecord] = {}
    for partner_id, accepted, decided, median in await session.execute(query):
        found[partner_id] = PartnerRecord(
            acceptance_rate=accepted / decided if decided else None,
            median_response_seconds=float(median) if median is not None else None,
        )
    return found


class DirectorySnapshot:
    def __init__(
        self,
        *,
        capacity_refresh_seconds: float = 2.0,
        records_refresh_seconds: float = 10.0,
        full_reload_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity_every = capacity_refresh_seconds
        self._records_every = records_refresh_seconds
        self._full_every = full_reload_seconds
        self._clock = clock
        self._lock = asyncio.Lock()
        self._partners: dict[uuid.UUID, PartnerListing] = {}
        self._services: dict[uuid.UUID, _ServiceEntry] = {}
        self._pools: dict[PoolKey, Pool] = {}
        self._records: dict[uuid.UUID, PartnerRecord] = {}
        self._answered: set[uuid.UUID] = set()  # records this process changed, to re-read
        # Partners and services this process changed (re-read at the next catch-up, even if
        # no event named them; re-reading, not copying, keeps concurrent commits in order).
        self._changed_partners: set[uuid.UUID] = set()
        self._changed_services: set[uuid.UUID] = set()
        self._position: int | None = None  # the last outbox position applied
        self._caught_up_at = self._capacity_at = self._records_at = 0.0
        self.full_loads = 0  # for tests and benchmarks
        self.catch_ups = 0

    # ---- reads (synchronous: they never wait, and never see a half-applied change) -------

    def pool(self, category: NeedCategory, country: str) -> Pool:
        return self._pools.get((category, country), {})

    def service(self, service_id: uuid.UUID) -> ServiceListing | None:
        entry = self._services.get(service_id)
        return entry.listing if entry else None

    def sla_hours(self, service_id: uuid.UUID) -> Mapping[Urgency, int]:
        entry = self._services.get(service_id)
        return entry.sla_hours if entry else {}

    def partner(self, partner_id: uuid.UUID) -> PartnerListing | None:
        return self._partners.get(partner_id)

    def partners(self) -> Iterable[PartnerListing]:
        return self._partners.values()

    def record(self, partner_id: uuid.UUID) -> PartnerRecord | None:
        return self._records.get(partner_id)

    # ---- keeping current ------------------------------------------------------------

    async def catch_up(
        self,
        session: AsyncSession,
        riding: tuple[Riding, Mapping[str, Any]] | None = None,
    ) -> Any:
        """Applies what was committed since the last catch-up (in `session`'s transaction,
        before it wrote anything to the directory: it reads committed rows only). Runs
        `riding` (a statement and its parameters) too, in the same round trip as the
        catch-up's first query when it can, and returns its value."""
        async with self._lock:
            now = self._clock()
            value = None
            if self._position is None or now - self._caught_up_at >= self._full_every:
                if riding is not None:
                    value = await session.scalar(*riding)
                await self._load_all(session)
            else:
                value = await self._apply_events(session, riding)
                if now - self._capacity_at >= self._capacity_every:
                    await self._refresh_places(session, now - self._capacity_at)
                    self._capacity_at = now
                if self._answered or now - self._records_at >= self._records_every:
                    await self._refresh_records(session, now)
            self._caught_up_at = now
            self.catch_ups += 1
            return value

    def took_places(self, places: Mapping[uuid.UUID, int]) -> None:
        """Places a committed unit of work took or gave back (the counts it left)."""
        for service_id, available in places.items():
            entry = self._services.get(service_id)
            if entry is not None and entry.listing.capacity_available is not None:
                self._put(
                    dataclasses.replace(
                        entry,
                        listing=dataclasses.replace(entry.listing, capacity_available=available),
                    )
                )

    def answered(self, partner_ids: Iterable[uuid.UUID]) -> None:
        """Partners whose track record a committed answer changed (re-read at next use)."""
        self._answered.update(partner_ids)

    def changed(self, partner_ids: Iterable[uuid.UUID], service_ids: Iterable[uuid.UUID]) -> None:
        """Partners and services a committed unit of work changed (re-read at next use)."""
        self._changed_partners.update(partner_ids)
        self._changed_services.update(service_ids)

    async def _load_all(self, session: AsyncSession) -> None:
        # The position first: an event committed meanwhile is applied (again) next time.
        position = (
            await session.execute(text("SELECT coalesce(max(position), 0) FROM outbox"))
        ).scalar_one()
        partner_rows = (await session.execute(select(partners))).mappings().all()
        service_rows = (await session.execute(select(services))).mappings().all()
        records = await _records(session, None)
        loaded = {row["id"]: PartnerListing.of(row) for row in partner_rows}
        entries = {row["id"]: _entry_of(row, loaded[row["partner_id"]]) for row in service_rows}
        self._partners, self._services, self._pools = loaded, {}, {}
        for entry in entries.values():
            self._put(entry)
        self._records = records
        self._answered.clear()
        self._changed_partners.clear()
        self._changed_services.clear()
        self._position = int(position)
        now = self._clock()
        self._capacity_at = self._records_at = now
        self.full_loads += 1

    async def _apply_events(
        self, session: AsyncSession, riding: tuple[Riding, Mapping[str, Any]] | None
    ) -> Any:
        """Applies the directory events since the last position; returns `riding`'s value."""
        value = None
        statement, parameters = riding or (None, {})
        rows = (
            await session.execute(
                _directory_events(statement), {**parameters, "after": self._position}
            )
        ).all()
        partner_ids, service_ids = set(self._changed_partners), set(self._changed_services)
        end = self._position
        for position, partner_id, service_id, *ridden in rows:
            if partner_id is None and service_id is None:
                end = max(end or 0, position or 0)  # the outbox's end (None when empty)
                if ridden:
                    value = ridden[0]
            elif service_id is not None:
                service_ids.add(uuid.UUID(service_id))
            else:
                partner_ids.add(uuid.UUID(partner_id))
        if partner_ids or service_ids:
            await self._reload(session, partner_ids, service_ids)
        # Only now: a catch-up that failed half-way leaves them to the next one.
        self._changed_partners -= partner_ids
        self._changed_services -= service_ids
        self._position = end
        return value

    async def _reload(
        self, session: AsyncSession, partner_ids: set[uuid.UUID], service_ids: set[uuid.UUID]
    ) -> None:
        """Re-reads the partners named (with all their services) and the services named."""
        fresh = {
            row["id"]: PartnerListing.of(row)
            for row in (
                await session.execute(select(partners).where(partners.c.id.in_(partner_ids)))
            ).mappings()
        }
        rows = (
            (
                await session.execute(
                    select(services).where(
                        services.c.partner_id.in_(partner_ids) | services.c.id.in_(service_ids)
                    )
                )
            )
            .mappings()
            .all()
        )
        missing = {row["partner_id"] for row in rows} - fresh.keys() - self._partners.keys()
        if missing:  # a service's partner this snapshot has not met yet
            for row in (
                await session.execute(select(partners).where(partners.c.id.in_(missing)))
            ).mappings():
                fresh[row["id"]] = PartnerListing.of(row)
        self._partners.update(fresh)
        for row in rows:
            self._put(_entry_of(row, self._partners[row["partner_id"]]))

    async def _refresh_places(self, session: AsyncSession, since_seconds: float) -> None:
        window = since_seconds + _LATE_COMMIT_MARGIN_SECONDS
        rows = (await session.execute(_PLACES_CHANGED, {"window": window})).all()
        self.took_places({service_id: available for service_id, available in rows})

    async def _refresh_records(self, session: AsyncSession, now: float) -> None:
        stale = set(self._answered)
        if now - self._records_at >= self._records_every:
            window = now - self._records_at + _LATE_COMMIT_MARGIN_SECONDS
            lately = await session.execute(_ANSWERED_LATELY, {"window": window})
            stale.update(row[0] for row in lately)
            self._records_at = now
        self._answered.clear()
        if stale:
            fresh = await _records(session, stale)
            for partner_id in stale:
                if partner_id in fresh:
                    self._records[partner_id] = fresh[partner_id]
                else:
                    self._records.pop(partner_id, None)

    def _put(self, entry: _ServiceEntry) -> None:
        """Files a service's entry under its pools, out of those it no longer belongs to."""
        service_id = entry.listing.service_id
        before = self._services.get(service_id)
        if before is not None:
            for key in before.keys:
                if key not in entry.keys:
                    self._pools.get(key, {}).pop(service_id, None)
        self._services[service_id] = entry
        for key in entry.keys:
            self._pools.setdefault(key, {})[service_id] = entry.listing


class DirectoryView:
    """The snapshot as one unit of work sees it (see the module's docstring)."""

    def __init__(self, snapshot: DirectorySnapshot, session: AsyncSession) -> None:
        self._snapshot = snapshot
        self._session = session
        self._current = False
        # What this unit of work changed, read back from its own session.
        self._partners: dict[uuid.UUID, PartnerListing] = {}
        self._services: dict[uuid.UUID, _ServiceEntry] = {}
        self._places: dict[uuid.UUID, int] = {}  # tracked places left after its reservations
        self._answered: set[uuid.UUID] = set()

    async def current(self) -> DirectoryView:
        """Caught up, once per unit of work, before its first directory read or write."""
        if not self._current:
            await self._snapshot.catch_up(self._session)
            self._current = True
        return self

    @property
    def caught_up(self) -> bool:
        """Whether this unit of work has caught up on the directory already."""
        return self._current

    async def current_with(self, statement: Riding, parameters: Mapping[str, Any]) -> Any:
        """Runs `statement` (an insert returning one value, of no directory table) in the
        round trip of this unit of work's catch-up (a case's registration, which routing
        follows) and returns its value. Only before the catch-up (`caught_up`): after it,
        the caller sends its statement on its own."""
        if self._current:
            raise RuntimeError("this unit of work has caught up on the directory already")
        value = await self._snapshot.catch_up(self._session, (statement, parameters))
        self._current = True
        return value

    # ---- what the unit of work changed --------------------------------------------------

    async def directory_changed(
        self, *, partner_id: uuid.UUID | None = None, service_id: uuid.UUID | None = None
    ) -> None:
        """Re-reads, from this unit of work's session, a partner (and all its services) or
        a service it just wrote."""
        if partner_id is not None:
            row = (
                (await self._session.execute(select(partners).where(partners.c.id == partner_id)))
                .mappings()
                .first()
            )
            if row is not None:
                self._partners[partner_id] = PartnerListing.of(row)
            query = select(services).where(services.c.partner_id == partner_id)
        else:
            query = select(services).where(services.c.id == service_id)
        for service in (await self._session.execute(query)).mappings():
            partner = self.partner(service["partner_id"])
            if partner is None:
                continue
            self._services[service["id"]] = _entry_of(service, partner)
            self._places.pop(service["id"], None)

    def placed(self, service_id: uuid.UUID, available: int | None) -> None:
        if available is not None:
            self._places[service_id] = available

    def answered(self, partner_id: uuid.UUID) -> None:
        self._answered.add(partner_id)

    def committed(self) -> None:
        """After the commit: the snapshot takes what only this unit of work knows."""
        if self._places:
            self._snapshot.took_places(self._places)
        if self._answered:
            self._snapshot.answered(self._answered)
        if self._partners or self._services:
            self._snapshot.changed(self._partners, self._services)

    # ---- reads ------------------------------------------------------------------------

    def partner(self, partner_id: uuid.UUID) -> PartnerListing | None:
        return self._partners.get(partner_id) or self._snapshot.partner(partner_id)

    def listings_for(self, category: NeedCategory, country: str) -> list[ServiceListing]:
        pool = self._snapshot.pool(category, country)
        if not (self._services or self._places or self._partners):
            return list(pool.values())
        key = (category, country)
        merged = dict(pool)
        for service_id, entry in self._services.items():
            if key in entry.keys:
                merged[service_id] = entry.listing
            else:
                merged.pop(service_id, None)
        for service_id, listing in list(merged.items()):
            partner = self._partners.get(listing.partner_id)
            if partner is not None and service_id not in self._services:
                merged[service_id] = dataclasses.replace(
                    listing,
                    partner_type=partner.partner_type,
                    partner_active=partner.active,
                    partner_designations=partner.designations,
                )
            available = self._places.get(service_id)
            if available is not None and merged[service_id].capacity_available is not None:
                merged[service_id] = dataclasses.replace(
                    merged[service_id], capacity_available=available
                )
        return list(merged.values())

    def sla_hours(self, service_id: uuid.UUID) -> Mapping[Urgency, int]:
        entry = self._services.get(service_id)
        return entry.sla_hours if entry else self._snapshot.sla_hours(service_id)

    def tracks_capacity(self, service_id: uuid.UUID) -> bool:
        """Whether the service counts its places, as far as this view knows (unknown: yes,
        the safe answer: the place is then taken under the row's exclusive lock)."""
        entry = self._services.get(service_id)
        listing = entry.listing if entry else self._snapshot.service(service_id)
        return listing is None or listing.capacity_available is not None

    def partner_type(self, partner_id: uuid.UUID) -> PartnerType | None:
        partner = self.partner(partner_id)
        return partner.partner_type if partner else None

    def any_designated(self, role: DesignationRole, country: str, admin_area: str | None) -> bool:
        mine = self._partners
        return any(p.designated(role, country, admin_area) for p in mine.values()) or any(
            p.designated(role, country, admin_area)
            for p in self._snapshot.partners()
            if p.partner_id not in mine
        )

    def partner_records(self, partner_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, PartnerRecord]:
        found: dict[uuid.UUID, PartnerRecord] = {}
        for partner_id in partner_ids:
            record = self._snapshot.record(partner_id)
            if record is not None:
                found[partner_id] = record
        return found
