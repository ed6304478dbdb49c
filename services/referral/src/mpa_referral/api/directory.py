"""Directory routes: partners and their services."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from mpa_common.auth import CurrentPrincipal, Principal, Role, require_roles
from mpa_contracts.vocabularies import (
    DeactivationReason,
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.api.deps import Context, actor_of, reader_of
from mpa_referral.app import directory as use_cases
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    OpeningHours,
    PartnerDraft,
    PartnerPatch,
    ServiceDraft,
    ServicePatch,
)
from mpa_referral.app.ports import ServiceFilter

router = APIRouter(prefix="/v1", tags=["directory"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AdminOrPartner = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.PARTNER))]


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


def _partner_out(row: Mapping[str, Any]) -> PartnerOut:
    return PartnerOut.model_validate(dict(row))


def _service_out(row: Mapping[str, Any]) -> ServiceOut:
    values: dict[str, Any] = dict(row)
    values.pop("coverage_countries", None)
    return ServiceOut.model_validate(values)


@router.post(
    "/partners",
    status_code=status.HTTP_201_CREATED,
    summary="Register a partner organisation (admin)",
)
async def register_partner(draft: PartnerDraft, principal: Admin, ctx: Context) -> PartnerOut:
    row = await use_cases.register_partner(
        ctx, use_cases.RegisterPartner(draft, actor_of(principal))
    )
    return _partner_out(row)


@router.get(
    "/partners",
    summary="List partners (contacts only for roles that reach partners, and their own staff)",
)
async def list_partners(
    principal: CurrentPrincipal,
    ctx: Context,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    partner_type: PartnerType | None = None,
) -> list[PartnerOut]:
    rows = await use_cases.list_partners(
        ctx,
        use_cases.ListPartners(reader_of(principal), country=country, partner_type=partner_type),
    )
    return [_partner_out(row) for row in rows]


@router.get("/partners/{partner_id}", summary="One partner")
async def get_partner(
    partner_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context
) -> PartnerOut:
    row = await use_cases.get_partner(ctx, use_cases.GetPartner(partner_id, reader_of(principal)))
    return _partner_out(row)


@router.patch("/partners/{partner_id}", summary="Change or deactivate a partner (admin)")
async def update_partner(
    partner_id: uuid.UUID, patch: PartnerPatch, principal: Admin, ctx: Context
) -> PartnerOut:
    row = await use_cases.update_partner(
        ctx, use_cases.UpdatePartner(partner_id, patch, actor_of(principal))
    )
    return _partner_out(row)


@router.post(
    "/partners/{partner_id}/services",
    status_code=status.HTTP_201_CREATED,
    summary="Register a service of a partner (admin)",
)
async def register_service(
    partner_id: uuid.UUID, draft: ServiceDraft, principal: Admin, ctx: Context
) -> ServiceOut:
    row = await use_cases.register_service(
        ctx, use_cases.RegisterService(partner_id, draft, actor_of(principal))
    )
    return _service_out(row)


@router.get("/partners/{partner_id}/services", summary="The services of a partner")
async def list_partner_services(
    partner_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context
) -> list[ServiceOut]:
    rows = await use_cases.list_services(
        ctx,
        use_cases.ListServices(reader_of(principal), ServiceFilter(partner_id=partner_id)),
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
    ctx: Context,
) -> ServiceOut:
    row = await use_cases.update_service(
        ctx,
        use_cases.UpdateService(
            partner_id, service_id, patch, actor_of(principal), reader_of(principal)
        ),
    )
    return _service_out(row)


@router.get("/services", summary="Find services")
async def list_services(
    principal: CurrentPrincipal,
    ctx: Context,
    category: NeedCategory | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    admin_area: Annotated[str | None, Query(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$")] = None,
    partner_type: PartnerType | None = None,
    service_status: Annotated[ServiceStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ServiceOut]:
    rows = await use_cases.list_services(
        ctx,
        use_cases.ListServices(
            reader_of(principal),
            ServiceFilter(
                category=category,
                country=country,
                admin_area=admin_area,
                language=language,
                partner_type=partner_type,
                status=service_status,
            ),
            limit=limit,
        ),
    )
    return [_service_out(row) for row in rows]
