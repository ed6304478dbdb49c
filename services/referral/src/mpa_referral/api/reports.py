"""Reporting routes: figures only, no case-level data."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mpa_common.auth import Principal, Role, require_roles
from mpa_common.request_types import DateTime
from mpa_referral.api.deps import Context
from mpa_referral.app.queries import ReportQuery, referral_figures

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Reporter = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]


class ReferralReport(BaseModel):
    total: int = Field(description="Referrals created in the period")
    by_state: dict[str, int]
    by_need: dict[str, int]
    by_partner: dict[str, int] = Field(description="Current holder partner id -> referrals")
    acceptance_rate: float | None = Field(
        description="Accepted / (accepted + declined + SLA breached) over routing attempts"
    )
    median_seconds_to_accept: float | None
    p90_seconds_to_accept: float | None
    sla_breaches: int = Field(description="Routed referrals not answered within the SLA")
    start_sla_breaches: int = Field(
        description="Accepted referrals whose service did not start within the SLA"
    )
    reroutes: int
    sla_breaches_by_partner: dict[str, int] = Field(
        description="Partner id -> routing attempts it let pass the acceptance deadline"
    )
    reroutes_by_partner: dict[str, int] = Field(
        description="Partner id -> referrals that left it for another partner (declined or "
        "deadline missed)"
    )


@router.get("/referrals", summary="Referral figures for a period, optionally one country")
async def referrals_report(
    principal: Reporter,
    ctx: Context,
    start: Annotated[DateTime, Query(alias="from", description="Inclusive, RFC 3339")],
    end: Annotated[DateTime, Query(alias="to", description="Exclusive, RFC 3339")],
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
) -> ReferralReport:
    figures = await referral_figures(ctx, ReportQuery(start, end, country))
    return ReferralReport(**dataclasses.asdict(figures))
