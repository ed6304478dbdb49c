"""Directory routes: partners and their services."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.engine import RowMapping

from mpa_common.auth import CurrentPrincipal, Principal, Role, require_roles
from mpa_common.problems import Problem
from mpa_contracts.vocabularies import (
    DeactivationReason,
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.adapters import directory_repository as directory_repo
from mpa_referral.api.deps import directory, unit_of_work
from mpa_referral.app.common import Actor
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    Directory,
    OpeningHours,
    PartnerDraft,
    PartnerPatch,
    ServiceDraft,
    ServicePatch,
)

router = APIRouter(prefix="/v1", tags=["directory"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AdminOrPartner = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.PARTNER))]
# Roles whose work needs services for survivors of gender-based violence in view.
GBV_VISIBLE_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.OPERATOR)


class PartnerOut(BaseModel):
    id: uuid.UUID
    code: str = Field(examples=["DPE-NE"])
    name: str
    partner_type: PartnerType
    countries: list[str]
    designations: list[DesignationModel]
    contacts: list[ContactPoint]
    active: bool
    deactivation_reason: DeactivationReason | None
    is_demo: bool = Field(description="Part of the fictional demo directory")
    created_at: datetime
    updated_at: datetime


class ServiceOut(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    partner_type: PartnerType | None = None
    name: str
    description: str
    category: NeedCategory
    status: ServiceStatus
    coverage: list[AreaModel]
    languages: list[str]
    min_age: int | None
    max_age: int | None
    sexes: list[Sex]
    nationalities_served: list[str]
    nationalities_excluded: list[str]
    vulnerabilities_required: list[Vulnerability]
    vulnerability_focus: list[Vulnerability]
    capacity_total: int | None
    capacity_available: int | None
    capacity_updated_at: datetime | None
    opening_hours: list[OpeningHours]
    sla_hours: dict[Urgency, int]
    free_of_charge: bool
    fees_description: str | None
    contacts: list[ContactPoint]
    assured_date: date | None
    gbv_sensitive: bool
    deactivation_reason: DeactivationReason | None = Field(
        default=None, description="Why the service is inactive"
    )
    is_demo: bool
    created_at: datetime
    updated_at: datetime


class Created(BaseModel):
    id: uuid.UUID


def _partner_out(row: RowMapping) -> PartnerOut:
    return PartnerOut.model_validate(dict(row))


def _service_out(row: RowMapping) -> ServiceOut:
    values: dict[str, Any] = dict(row)
    values.pop("coverage_countries", None)
    return ServiceOut.model_validate(values)


def _may_see_gbv(principal: Principal) -> bool:
    return principal.has(*GBV_VISIBLE_ROLES)


@router.post(
    "/partners",
    status_code=status.HTTP_201_CREATED,
    summary="Register a partner organisation (admin)",
)
async def register_partner(
    draft: PartnerDraft,
    principal: Admin,
    request: Request,
    use_cases: Directory = Depends(directory),
) -> PartnerOut:
    async with unit_of_work(request) as uow:
        partner_id = await use_cases.register_partner(uow, draft, Actor.of(principal))
        await uow.commit()
        row = await directory_repo.get_partner(uow.session, partner_id)
    assert row is not None
    return _partner_out(row)


@router.get("/partners", summary="List partners")
async def list_partners(
    principal: CurrentPrincipal,
    request: Request,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    partner_type: PartnerType | None = None,
) -> list[PartnerOut]:
    async with unit_of_work(request) as uow:
        rows = await directory_repo.list_partners(
            uow.session, country=country, partner_type=partner_type
        )
    return [_partner_out(row) for row in rows]


@router.get("/partners/{partner_id}", summary="One partner")
async def get_partner(
    partner_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> PartnerOut:
    async with unit_of_work(request) as uow:
        row = await directory_repo.get_partner(uow.session, partner_id)
    if row is None:
        raise Problem(404, "Not found", "No such partner")
    return _partner_out(row)


@router.patch("/partners/{partner_id}", summary="Change or deactivate a partner (admin)")
async def update_partner(
    partner_id: uuid.UUID,
    patch: PartnerPatch,
    principal: Admin,
    request: Request,
    use_cases: Directory = Depends(directory),
) -> PartnerOut:
    async with unit_of_work(request) as uow:
        await use_cases.update_partner(uow, partner_id, patch, Actor.of(principal))
        await uow.commit()
        row = await directory_repo.get_partner(uow.session, partner_id)
    assert row is not None
    return _partner_out(row)


@router.post(
    "/partners/{partner_id}/services",
    status_code=status.HTTP_201_CREATED,
    summary="Register a service of a partner (admin)",
)
async def register_service(
    partner_id: uuid.UUID,
    draft: ServiceDraft,
    principal: Admin,
    request: Request,
    use_cases: Directory = Depends(directory),
) -> ServiceOut:
    async with unit_of_work(request) as uow:
        service_id = await use_cases.register_service(uow, partner_id, draft, Actor.of(principal))
        await uow.commit()
        row = await directory_repo.get_service(uow.session, service_id)
    assert row is not None
    return _service_out(row)


@router.get("/partners/{partner_id}/services", summary="The services of a partner")
async def list_partner_services(
    partner_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> list[ServiceOut]:
    async with unit_of_work(request) as uow:
        rows = await directory_repo.list_services(
            uow.session,
            partner_id=partner_id,
            include_gbv_sensitive=_may_see_gbv(principal),
            visible_partner_id=principal.partner_id,
        )
    return [_service_out(row) for row in rows]


@router.patch(
    "/partners/{partner_id}/services/{service_id}",
    summary="Change a service (admin), or its status and capacity (the partner's own staff)",
)
async def update_service(
    partner_id: uuid.UUID,
    service_id: uuid.UUID,
    patch: ServicePatch,
    principal: AdminOrPartner,
    request: Request,
    use_cases: Directory = Depends(directory),
) -> ServiceOut:
    actor = Actor.of(principal)
    if not principal.has(Role.ADMIN) and principal.partner_id is None:
        raise Problem(403, "Forbidden", "A partner token must name its partner (partner_id)")
    if principal.has(Role.ADMIN):
        actor = Actor(actor.actor_id, actor.role)  # an admin acts for no particular partner
    async with unit_of_work(request) as uow:
        await use_cases.update_service(uow, partner_id, service_id, patch, actor)
        await uow.commit()
        row = await directory_repo.get_service(uow.session, service_id)
    assert row is not None
    return _service_out(row)


@router.get("/services", summary="Find services")
async def list_services(
    principal: CurrentPrincipal,
    request: Request,
    category: NeedCategory | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    admin_area: Annotated[str | None, Query(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    partner_type: PartnerType | None = None,
    service_status: Annotated[ServiceStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ServiceOut]:
    async with unit_of_work(request) as uow:
        rows = await directory_repo.list_services(
            uow.session,
            category=category,
            country=country,
            admin_area=admin_area,
            language=language,
            partner_type=partner_type,
            status=service_status,
            include_gbv_sensitive=_may_see_gbv(principal),
            visible_partner_id=principal.partner_id,
            limit=limit,
        )
    return [_service_out(row) for row in rows]
