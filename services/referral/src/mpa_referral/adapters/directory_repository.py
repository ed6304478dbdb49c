"""Directory rows in and out, and the capacity counter (reserved with a row lock)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import any_, func, literal, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mpa_common.messaging.relay import advisory_lock_key
from mpa_contracts.vocabularies import (
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Vulnerability,
)
from mpa_referral.adapters.tables import partners, services
from mpa_referral.domain.directory import (
    Area,
    Designation,
    DesignationRole,
    Eligibility,
    ServiceListing,
)


async def insert_partner(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await session.execute(partners.insert().values(**values))


async def update_partner(
    session: AsyncSession, partner_id: uuid.UUID, values: Mapping[str, Any]
) -> None:
    await session.execute(
        update(partners).where(partners.c.id == partner_id).values(**values, updated_at=func.now())
    )


async def get_partner(
    session: AsyncSession, partner_id: uuid.UUID, *, for_update: bool = False
) -> RowMapping | None:
    query = select(partners).where(partners.c.id == partner_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def partner_code_taken(session: AsyncSession, code: str) -> bool:
    found = await session.execute(select(partners.c.id).where(partners.c.code == code))
    return found.first() is not None


async def list_partners(
    session: AsyncSession,
    *,
    country: str | None = None,
    partner_type: PartnerType | None = None,
    limit: int = 200,
) -> Sequence[RowMapping]:
    query = select(partners).order_by(partners.c.code).limit(limit)
    if country is not None:
        query = query.where(literal(country) == any_(partners.c.countries))
    if partner_type is not None:
        query = query.where(partners.c.partner_type == partner_type.value)
    return (await session.execute(query)).mappings().all()


async def insert_service(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await session.execute(services.insert().values(**values))


async def update_service(
    session: AsyncSession, service_id: uuid.UUID, values: Mapping[str, Any]
) -> None:
    await session.execute(
        update(services).where(services.c.id == service_id).values(**values, updated_at=func.now())
    )


async def get_service(
    session: AsyncSession, service_id: uuid.UUID, *, for_update: bool = False
) -> RowMapping | None:
    query = select(services).where(services.c.id == service_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def list_services(
    session: AsyncSession,
    *,
    partner_id: uuid.UUID | None = None,
    category: NeedCategory | None = None,
    country: str | None = None,
    admin_area: str | None = None,
    language: str | None = None,
    partner_type: PartnerType | None = None,
    status: ServiceStatus | None = None,
    include_gbv_sensitive: bool = True,
    visible_partner_id: uuid.UUID | None = None,
    limit: int = 200,
) -> Sequence[RowMapping]:
    query = (
        select(services, partners.c.partner_type)
        .join(partners, partners.c.id == services.c.partner_id)
        .order_by(services.c.name, services.c.id)
        .limit(limit)
    )
    if partner_id is not None:
        query = query.where(services.c.partner_id == partner_id)
    if category is not None:
        query = query.where(services.c.category == category.value)
    if country is not None:
        query = query.where(literal(country) == any_(services.c.coverage_countries))
    if admin_area is not None:
        # Nationwide in the area's country, or naming the area.
        query = query.where(
            or_(
                services.c.coverage.contains([{"country": admin_area[:2], "admin_areas": []}]),
                services.c.coverage.contains([{"admin_areas": [admin_area]}]),
            )
        )
    if language is not None:
        query = query.where(literal(language) == any_(services.c.languages))
    if partner_type is not None:
        query = query.where(partners.c.partner_type == partner_type.value)
    if status is not None:
        query = query.where(services.c.status == status.value)
    if not include_gbv_sensitive:
        visible: ColumnElement[bool] = services.c.gbv_sensitive.is_(False)
        if visible_partner_id is not None:
            visible = or_(visible, services.c.partner_id == visible_partner_id)
        query = query.where(visible)
    return (await session.execute(query)).mappings().all()


async def all_partners(session: AsyncSession) -> Sequence[RowMapping]:
    return (await session.execute(select(partners).order_by(partners.c.id))).mappings().all()


async def all_services(session: AsyncSession) -> Sequence[RowMapping]:
    return (await session.execute(select(services).order_by(services.c.id))).mappings().all()


async def partners_by_ids(
    session: AsyncSession, partner_ids: Collection[uuid.UUID], *, for_update: bool = False
) -> Sequence[RowMapping]:
    query = select(partners).where(partners.c.id.in_(list(partner_ids)))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().all()


async def partner_ids_by_code(
    session: AsyncSession, codes: Collection[str]
) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(partners.c.code, partners.c.id).where(partners.c.code.in_(list(codes)))
    )
    return {code: partner_id for code, partner_id in rows}


async def services_by_ids(
    session: AsyncSession, service_ids: Collection[uuid.UUID], *, for_update: bool = False
) -> Sequence[RowMapping]:
    query = select(services).where(services.c.id.in_(list(service_ids)))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().all()


async def lock_directory_import(session: AsyncSession) -> None:
    """Imports run one at a time (until the transaction ends): two documents adding the
    same new partner never race to insert it."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": advisory_lock_key("mpa-referral-hsds-import")},
    )


async def directory_is_empty(session: AsyncSession) -> bool:
    return (await session.execute(select(partners.c.id).limit(1))).first() is None


async def listings_for(
    session: AsyncSession, category: NeedCategory, country: str
) -> list[ServiceListing]:
    """The services routing considers for a need: its category, covering its country."""
    rows = (
        await session.execute(
            select(
                services,
                partners.c.partner_type,
                partners.c.active.label("partner_active"),
                partners.c.designations,
            )
            .join(partners, partners.c.id == services.c.partner_id)
            .where(services.c.category == category.value)
            .where(literal(country) == any_(services.c.coverage_countries))
        )
    ).mappings()
    return [listing_from_row(row) for row in rows]


async def any_designated(
    session: AsyncSession, role: DesignationRole, country: str, admin_area: str | None
) -> bool:
    rows = (
        await session.execute(
            select(partners.c.designations)
            .where(partners.c.active.is_(True))
            .where(partners.c.designations.contains([{"role": role.value, "country": country}]))
        )
    ).scalars()
    return any(
        d.role is role and d.area.covers(country, admin_area)
        for document in rows
        for d in designations_from_json(document)
    )


async def reserve_place(session: AsyncSession, service_id: uuid.UUID) -> bool | None:
    """Takes one free place of an active service under its row lock.

    Returns True when a tracked place was taken, False when capacity is not tracked (nothing
    to take), None when the service has no place left or is no longer active. Concurrent
    callers queue on the row lock and re-check the condition, so places never go negative.
    """
    result = await session.execute(
        update(services)
        .where(services.c.id == service_id)
        .where(services.c.status == ServiceStatus.ACTIVE.value)
        .where(or_(services.c.capacity_available.is_(None), services.c.capacity_available > 0))
        .values(
            capacity_available=services.c.capacity_available - 1,
            capacity_updated_at=func.now(),
        )
        .returning(services.c.capacity_available.is_not(None))
    )
    row = result.first()
    return None if row is None else bool(row[0])


async def release_place(session: AsyncSession, service_id: uuid.UUID) -> None:
    await session.execute(
        update(services)
        .where(services.c.id == service_id)
        .where(services.c.capacity_available.is_not(None))
        .values(
            capacity_available=func.least(
                services.c.capacity_available + 1,
                func.coalesce(services.c.capacity_total, services.c.capacity_available + 1),
            ),
            capacity_updated_at=func.now(),
        )
    )


def areas_from_json(document: Sequence[Mapping[str, Any]]) -> tuple[Area, ...]:
    return tuple(
        Area(item["country"], frozenset(item.get("admin_areas") or ())) for item in document
    )


def designations_from_json(document: Sequence[Mapping[str, Any]]) -> tuple[Designation, ...]:
    return tuple(
        Designation(
            DesignationRole(item["role"]),
            Area(item["country"], frozenset(item.get("admin_areas") or ())),
        )
        for item in document
    )


def eligibility_from_row(row: RowMapping) -> Eligibility:
    return Eligibility(
        min_age=row["min_age"],
        max_age=row["max_age"],
        sexes=frozenset(Sex(s) for s in row["sexes"]),
        nationalities_served=frozenset(row["nationalities_served"]),
        nationalities_excluded=frozenset(row["nationalities_excluded"]),
        vulnerabilities_required=frozenset(
            Vulnerability(v) for v in row["vulnerabilities_required"]
        ),
    )


def listing_from_row(row: RowMapping) -> ServiceListing:
    return ServiceListing(
        service_id=row["id"],
        partner_id=row["partner_id"],
        partner_type=PartnerType(row["partner_type"]),
        partner_active=bool(row["partner_active"]),
        partner_designations=designations_from_json(row["designations"]),
        category=NeedCategory(row["category"]),
        status=ServiceStatus(row["status"]),
        coverage=areas_from_json(row["coverage"]),
        languages=frozenset(row["languages"]),
        eligibility=eligibility_from_row(row),
        capacity_available=row["capacity_available"],
        capacity_total=row["capacity_total"],
    )
