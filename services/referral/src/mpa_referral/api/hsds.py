"""Directory exchange routes: the whole directory as Open Referral HSDS 3.1 JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from mpa_common.auth import CurrentPrincipal, Principal, Role, require_roles
from mpa_common.limits import MIB, body_limit
from mpa_referral.api.deps import directory_exchange, unit_of_work
from mpa_referral.api.directory import GBV_VISIBLE_ROLES
from mpa_referral.app.common import Actor
from mpa_referral.app.hsds import HsdsDocument
from mpa_referral.app.hsds_exchange import DirectoryExchange, ImportSummary, Reader

router = APIRouter(prefix="/v1/directory", tags=["directory"])

HSDS_IMPORT_MAX_BYTES = 32 * MIB
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
# Roles that reach partners on a person's behalf, or run the directory, see contact points.
CONTACT_VISIBLE_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.OPERATOR)


@router.get(
    "/hsds",
    summary="The whole directory as HSDS 3.1 JSON (what the caller may see)",
    response_model_exclude_none=True,
)
async def export_directory(
    principal: CurrentPrincipal,
    request: Request,
    exchange: DirectoryExchange = Depends(directory_exchange),
) -> HsdsDocument:
    reader = Reader(
        sees_gbv_services=principal.has(*GBV_VISIBLE_ROLES),
        sees_contacts=principal.has(*CONTACT_VISIBLE_ROLES),
        partner_id=principal.partner_id if principal.has(Role.PARTNER) else None,
    )
    async with unit_of_work(request) as uow:
        return await exchange.export(uow.session, reader)


@router.post(
    "/hsds",
    summary="Import an HSDS 3.1 directory (admin): idempotent upsert by HSDS id",
    # A whole directory is larger than the service's default body limit.
    openapi_extra=body_limit(HSDS_IMPORT_MAX_BYTES),
    responses={422: {"description": "The document is invalid; nothing was imported"}},
)
async def import_directory(
    document: HsdsDocument,
    principal: Admin,
    request: Request,
    exchange: DirectoryExchange = Depends(directory_exchange),
) -> ImportSummary:
    actor = Actor.of(principal)
    actor = Actor(actor.actor_id, actor.role)  # an admin acts for no particular partner
    async with unit_of_work(request) as uow:
        summary = await exchange.import_document(uow, document, actor)
        await uow.commit()
    return summary
