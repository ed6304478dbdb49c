"""The protection screens' use cases (issue 17): a case's identification, recovery and
reflection period and a child's best-interests steps, and the steps on them.

Everything goes to intake with the signed-in user's token: intake applies the scopes and
roles, refuses what the rules forbid, and records the reads of the notes shown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User


async def protection_page(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """The case's protection steps, and its approvals (for a determination's approval)."""
    protection, work = await asyncio.gather(
        platform.get(Service.INTAKE, f"/v1/cases/{case_id}/protection", user.token),
        platform.get(Service.INTAKE, f"/v1/cases/{case_id}/casework", user.token),
    )
    determination_approvals = [
        a
        for a in work["approvals"]
        if a["subject"] == "best_interests_determination"
        and a["state"] == "approved"
        and not a["used_at"]
    ]
    running = [p for p in protection["reflection_periods"] if p["state"] == "running"]
    return {
        "protection": protection,
        "work": work,
        "determination_approvals": determination_approvals,
        "running_period": running[-1] if running else None,
    }


async def step(
    platform: Platform, user: User, case_id: str, path: str, body: dict[str, Any]
) -> Any:
    """One protection step on the case (`path` under /v1/cases/{case_id})."""
    return await platform.post(Service.INTAKE, f"/v1/cases/{case_id}{path}", user.token, body)
