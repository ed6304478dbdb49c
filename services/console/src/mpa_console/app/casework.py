"""The casework screens' use cases (issue 16): a case's casework page, the steps on it,
the inbox of what awaits the user's decision, and the casework report.

Everything goes to intake with the signed-in user's token, so intake applies the scopes,
the roles (a supervisor approves, nobody their own request) and records the read of the
casework's notes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User


async def casework_page(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """The casework of a case with its notes (an audited read when notes are shown)."""
    work: dict[str, Any] = await platform.get(
        Service.INTAKE, f"/v1/cases/{case_id}/casework", user.token
    )
    approved_closures = [
        a
        for a in work["approvals"]
        if a["subject"] == "closure" and a["state"] == "approved" and not a["used_at"]
    ]
    pending = [t for t in work["transfers"] if t["state"] == "requested"]
    return {
        "work": work,
        "approved_closures": approved_closures,
        "pending_transfer": pending[0] if pending else None,
    }


async def step(
    platform: Platform, user: User, case_id: str, path: str, body: dict[str, Any]
) -> Any:
    """One casework step on the case (`path` under /v1/cases/{case_id})."""
    return await platform.post(Service.INTAKE, f"/v1/cases/{case_id}{path}", user.token, body)


async def change_intervention(
    platform: Platform, user: User, case_id: str, intervention_id: str, body: dict[str, Any]
) -> Any:
    return await platform.patch(
        Service.INTAKE, f"/v1/cases/{case_id}/interventions/{intervention_id}", user.token, body
    )


async def inbox(platform: Platform, user: User) -> dict[str, Any]:
    """Transfers and approval requests that await the user's decision."""
    transfers, approvals = await asyncio.gather(
        platform.get(Service.INTAKE, "/v1/transfers", user.token),
        platform.get(Service.INTAKE, "/v1/approvals", user.token),
    )
    return {"transfers": transfers["items"], "approvals": approvals["items"]}


async def report(platform: Platform, user: User, registered_from: str | None) -> dict[str, Any]:
    figures: dict[str, Any] = await platform.get(
        Service.INTAKE, "/v1/reports/casework", user.token, registered_from=registered_from
    )
    return figures
