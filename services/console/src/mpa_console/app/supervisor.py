"""The supervisor's use cases: referral figures, and the unroutable referrals to decide on."""

from __future__ import annotations

import asyncio
from typing import Any

from mpa_console.adapters.platform import Platform, Service, UpstreamError
from mpa_console.app.context import User
from mpa_console.app.directory import partner_names, service_names
from mpa_console.domain.kpis import Period


async def dashboard(
    platform: Platform, user: User, period: Period, country: str | None
) -> dict[str, Any]:
    report, partners = await asyncio.gather(
        platform.get(
            Service.REFERRAL,
            "/v1/reports/referrals",
            user.token,
            **{"from": period.start.isoformat(), "to": period.end.isoformat()},
            country=country,
        ),
        partner_names(platform, user),
    )
    return {"report": report, "partners": partners}


async def unroutable(platform: Platform, user: User) -> dict[str, Any]:
    page, partners = await asyncio.gather(
        platform.get(Service.REFERRAL, "/v1/referrals", user.token, state="unroutable", limit=200),
        partner_names(platform, user),
    )
    return {"referrals": page["items"], "partners": partners}


async def decision_page(platform: Platform, user: User, referral_id: str) -> dict[str, Any]:
    """An unroutable referral, why routing gave up, and the candidates for referring by hand."""
    referral = await platform.get(Service.REFERRAL, f"/v1/referrals/{referral_id}", user.token)
    candidates, partners, services = await asyncio.gather(
        platform.get(
            Service.REFERRAL,
            f"/v1/cases/{referral['case_id']}/candidates",
            user.token,
            need=referral["need_id"],
        ),
        partner_names(platform, user),
        service_names(platform, user, referral["country"]),
    )
    return {
        "referral": referral,
        "candidates": candidates,
        "partners": partners,
        "services": services,
    }


async def refer_by_hand(
    platform: Platform,
    user: User,
    referral_id: str,
    service_id: str,
    override_reason: str | None,
) -> dict[str, Any]:
    """Refers the need to the chosen service; once that referral exists, the unroutable one
    it replaces is cancelled as a duplicate (in that order, so a refused choice leaves the
    unroutable referral waiting as before)."""
    held = await platform.get(Service.REFERRAL, f"/v1/referrals/{referral_id}", user.token)
    body: dict[str, Any] = {
        "case_id": held["case_id"],
        "need_id": held["need_id"],
        "service_id": service_id,
    }
    if override_reason:
        body["consent_override_reason"] = override_reason
    created: dict[str, Any] = await platform.post(
        Service.REFERRAL, "/v1/referrals", user.token, body
    )
    try:
        await cancel(platform, user, referral_id, "duplicate")
    except UpstreamError as error:
        if error.status != 409:  # already left the unroutable state meanwhile
            raise
    return created


async def cancel(platform: Platform, user: User, referral_id: str, reason: str) -> None:
    await platform.post(
        Service.REFERRAL, f"/v1/referrals/{referral_id}/cancel", user.token, {"reason": reason}
    )
