"""Directory exchange routes: the whole directory as Open Referral HSDS 3.1 JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from mpa_common.auth import CurrentPrincipal, Principal, Role, require_roles
from mpa_common.limits import MIB, body_limit
from mpa_referral.api.deps import Context, actor_of, reader_of
from mpa_referral.app.hsds import export, importer
from mpa_referral.app.hsds.schema import HsdsDocument

router = APIRouter(prefix="/v1/directory", tags=["directory"])

HSDS_IMPORT_MAX_BYTES = 32 * MIB
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


@router.get(
    "/hsds",
    summary="The whole directory as HSDS 3.1 JSON (what the caller may see)",
    response_model_exclude_none=True,
)
async def export_directory(principal: CurrentPrincipal, ctx: Context) -> HsdsDocument:
    return await export.export_directory(ctx, export.ExportDirectory(reader_of(principal)))


@router.post(
    "/hsds",
    summary="Import an HSDS 3.1 directory (admin): idempotent upsert by HSDS id",
    # A whole directory is larger than the service's default body limit.
    openapi_extra=body_limit(HSDS_IMPORT_MAX_BYTES),
    responses={422: {"description": "The document is invalid; nothing was imported"}},
)
async def import_directory(
    document: HsdsDocument, principal: Admin, ctx: Context
) -> importer.ImportSummary:
    return await importer.import_directory(
        ctx, importer.ImportDirectory(document, actor_of(principal))
    )
