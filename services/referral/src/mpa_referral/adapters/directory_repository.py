"""The directory on PostgreSQL (see app/ports.py for the contract): its rows, the place
counter (reserved under the service row's lock), and routing's reads, which the in-memory
snapshot serves (adapters/directory_snapshot.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import any_, bindparam, func, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mpa_common.driver import DriverSql, driver_of
from mpa_common.messaging.relay import advisory_lock_key
from mpa_contracts.vocabularies import NeedCategory, PartnerType, ServiceStatus, Urgency
from mpa_referral.adapters.directory_snapshot import DirectoryView
from mpa_referral.adapters.tables import partners, services
from mpa_referral.app.ports import PartnerRow, ServiceFilter, ServiceRow
from mpa_referral.domain.directory import DesignationRole, ServiceListing
from mpa_referral.domain.routing import PartnerRecord

# The service's partner, if it is active, share-locked: a place is never taken at a partner
# that a concurrent transaction is deactivating (or suspending). The lock waits for that
# transaction and re-reads the row, so routing from a snapshot read just before the
# deactivation committed still cannot route to it; a deactivation that comes second sees
# the referral this routing committed, and re-routes it.
_ACTIVE_PARTNER = (
    select(partners.c.id)
    .where(
        partners.c.id
        == select(services.c.partner_id)
        .where(services.c.id == bindparam("service_id"))
        .scalar_subquery()
    )
    .where(partners.c.active)
    .with_for_update(read=True)
    .cte("active_partner")
)
# Built once (the hot path of routing): only the service id changes between calls.
_RESERVE = (
    update(services)
    .where(services.c.id == bindparam("service_id"))
    .where(services.c.status == ServiceStatus.ACTIVE.value)
    .where(services.c.partner_id.in_(select(_ACTIVE_PARTNER.c.id)))
    .where(or_(services.c.capacity_available.is_(None), services.c.capacity_available > 0))
    .values(
        capacity_available=services.c.capacity_available - 1,
        capacity_updated_at=func.now(),
    )
    .returning(services.c.capacity_available)
)
# A service that does not count its places holds nothing to take: routing to it needs
# only that it and its partner stay active until commit, which a share lock on both rows
# guarantees (deactivating takes the exclusive lock and waits, or is waited for). Share
# locks do not queue each other, so concurrent routings to a busy untracked service run
# side by side instead of one after another on _RESERVE's exclusive lock.
_CONFIRM_UNTRACKED = (
    select(services.c.id)
    .where(services.c.id == bindparam("service_id"))
    .where(services.c.status == ServiceStatus.ACTIVE.value)
    .where(services.c.partner_id.in_(select(_ACTIVE_PARTNER.c.id)))
    .where(services.c.capacity_available.is_(None))
    .with_for_update(read=True, of=services)
)
_RELEASE = (
    update(services)
    .where(services.c.id == bindparam("service_id"))
    .where(services.c.capacity_available.is_not(None))
    .values(
        capacity_available=func.least(
            services.c.capacity_available + 1,
            func.coalesce(services.c.capacity_total, services.c.capacity_available + 1),
        ),
        capacity_updated_at=func.now(),
    )
    .returning(services.c.capacity_available)
)

# Routing takes a place for every referral it routes, in a round trip of its own: through
# the driver, a third of the CPU of the same statement through the session.
_RESERVE_ON_DRIVER = DriverSql.of(_RESERVE)
_CONFIRM_UNTRACKED_ON_DRIVER = DriverSql.of(_CONFIRM_UNTRACKED)


class SqlDirectoryRepository:
    def __init__(self, session: AsyncSession, view: DirectoryView) -> None:
        self._session = session
        self._view = view

    # ---- partners -----------------------------------------------------------------------

    async def add_partner(self, values: Mapping[str, Any]) -> None:
        await self._view.current()
        await self._session.execute(partners.insert(), dict(values))
        await self._view.directory_changed(partner_id=values["id"])

    async def update_partner(self, partner_id: uuid.UUID, values: Mapping[str, Any]) -> None:
        await self._view.current()
        await self._session.execute(
            update(partners)
            .where(partners.c.id == partner_id)
            .values(**values, updated_at=func.now())
        )
        await self._view.directory_changed(partner_id=partner_id)

    async def get_partner(
        self, partner_id: uuid.UUID, *, for_update: bool = False
    ) -> PartnerRow | None:
        await self._view.current()
        query = select(partners).where(partners.c.id == partner_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).mappings().first()

    async def partner_code_taken(self, code: str) -> bool:
        found = await self._session.execute(select(partners.c.id).where(partners.c.code == code))
        return found.first() is not None

    async def list_partners(
        self,
        *,
        country: str | None = None,
        partner_type: PartnerType | None = None,
        limit: int = 200,
    ) -> list[PartnerRow]:
        query = select(partners).order_by(partners.c.code).limit(limit)
        if country is not None:
            query = query.where(literal(country) == any_(partners.c.countries))
        if partner_type is not None:
            query = query.where(partners.c.partner_type == partner_type.value)
        return list((await self._session.execute(query)).mappings().all())

    async def all_partners(self) -> list[PartnerRow]:
        query = select(partners).order_by(partners.c.id)
        return list((await self._session.execute(query)).mappings().all())

    async def partners_by_ids(
        self, partner_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[PartnerRow]:
        await self._view.current()
        query = select(partners).where(partners.c.id.in_(list(partner_ids)))
        if for_update:
            query = query.with_for_update()
        return list((await self._session.execute(query)).mappings().all())

    async def partner_ids_by_code(self, codes: Collection[str]) -> dict[str, uuid.UUID]:
        rows = await self._session.execute(
            select(partners.c.code, partners.c.id).where(partners.c.code.in_(list(codes)))
        )
        return {code: partner_id for code, partner_id in rows}

    async def gbv_only_partner_ids(self) -> frozenset[uuid.UUID]:
        rows = await self._session.execute(
            select(services.c.partner_id)
            .group_by(services.c.partner_id)
            .having(func.bool_and(services.c.gbv_sensitive))
        )
        return frozenset(row[0] for row in rows)

    # ---- services -----------------------------------------------------------------------

    async def add_service(self, values: Mapping[str, Any]) -> None:
        await self._view.current()
        await self._session.execute(services.insert(), dict(values))
        await self._view.directory_changed(service_id=values["id"])

    async def update_service(self, service_id: uuid.UUID, values: Mapping[str, Any]) -> None:
        await self._view.current()
        await self._session.execute(
            update(services)
            .where(services.c.id == service_id)
            .values(**values, updated_at=func.now())
        )
        await self._view.directory_changed(service_id=service_id)

    async def get_service(
        self, service_id: uuid.UUID, *, for_update: bool = False
    ) -> ServiceRow | None:
        await self._view.current()
        query = select(services).where(services.c.id == service_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).mappings().first()

    async def list_services(self, where: ServiceFilter, *, limit: int = 200) -> list[ServiceRow]:
        query = (
            select(services, partners.c.partner_type)
            .join(partners, partners.c.id == services.c.partner_id)
            .order_by(services.c.name, services.c.id)
            .limit(limit)
        )
        if where.partner_id is not None:
            query = query.where(services.c.partner_id == where.partner_id)
        if where.category is not None:
            query = query.where(services.c.category == where.category.value)
        if where.country is not None:
            query = query.where(literal(where.country) == any_(services.c.coverage_countries))
        if where.admin_area is not None:
            # Nationwide in the area's country, or naming the area.
            query = query.where(
                or_(
                    services.c.coverage.contains(
                        [{"country": where.admin_area[:2], "admin_areas": []}]
                    ),
                    services.c.coverage.contains([{"admin_areas": [where.admin_area]}]),
                )
            )
        if where.language is not None:
            query = query.where(literal(where.language) == any_(services.c.languages))
        if where.partner_type is not None:
            query = query.where(partners.c.partner_type == where.partner_type.value)
        if where.status is not None:
            query = query.where(services.c.status == where.status.value)
        if not where.include_gbv_sensitive:
            visible: ColumnElement[bool] = services.c.gbv_sensitive.is_(False)
            if where.visible_partner_id is not None:
                visible = or_(visible, services.c.partner_id == where.visible_partner_id)
            query = query.where(visible)
        return list((await self._session.execute(query)).mappings().all())

    async def all_services(self) -> list[ServiceRow]:
        query = select(services).order_by(services.c.id)
        return list((await self._session.execute(query)).mappings().all())

    async def services_by_ids(
        self, service_ids: Collection[uuid.UUID], *, for_update: bool = False
    ) -> list[ServiceRow]:
        await self._view.current()
        query = select(services).where(services.c.id.in_(list(service_ids)))
        if for_update:
            query = query.with_for_update()
        return list((await self._session.execute(query)).mappings().all())

    async def lock_for_import(self) -> None:
        await self._view.current()
        await self._session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": advisory_lock_key("mpa-referral-hsds-import")},
        )

    async def is_empty(self) -> bool:
        return (await self._session.execute(select(partners.c.id).limit(1))).first() is None

    # ---- routing's reads: the snapshot ---------------------------------------------------

    async def load_snapshot(self) -> None:
        """Brings the directory snapshot up to date now (at start-up, before any routing)."""
        await self._view.current()

    async def listings_for(self, category: NeedCategory, country: str) -> list[ServiceListing]:
        return (await self._view.current()).listings_for(category, country)

    async def partner_records(
        self, partner_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, PartnerRecord]:
        return (await self._view.current()).partner_records(partner_ids)

    async def sla_hours(self, service_id: uuid.UUID) -> Mapping[Urgency, int]:
        return (await self._view.current()).sla_hours(service_id)

    async def partner_type(self, partner_id: uuid.UUID) -> PartnerType | None:
        return (await self._view.current()).partner_type(partner_id)

    async def any_designated(
        self, role: DesignationRole, country: str, admin_area: str | None
    ) -> bool:
        return (await self._view.current()).any_designated(role, country, admin_area)

    # ---- places: the database decides -----------------------------------------------------

    async def reserve_place(self, service_id: uuid.UUID) -> bool | None:
        # Concurrent callers queue on the row lock and re-check the condition, so places
        # never go negative.
        view = await self._view.current()
        driver = await driver_of(self._session)
        service = {"service_id": service_id}
        if (
            not view.tracks_capacity(service_id)
            and await _CONFIRM_UNTRACKED_ON_DRIVER.fetchrow(driver, service) is not None
        ):
            return False
        # Counting its places, or (not confirmed) inactive, gone or counting them since the
        # snapshot was taken: _RESERVE says.
        row = await _RESERVE_ON_DRIVER.fetchrow(driver, service)
        if row is None:
            return None
        self._view.placed(service_id, row[0])
        return row[0] is not None

    async def release_place(self, service_id: uuid.UUID) -> None:
        await self._view.current()
        result = await self._session.execute(_RELEASE, {"service_id": service_id})
        row = result.first()
        if row is not None:
            self._view.placed(service_id, row[0])
