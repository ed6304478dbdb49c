"""The PSEA focal point's use cases (issue 17): the complaints of sexual exploitation and
abuse, one complaint's restricted record, and the steps on it.

Everything goes to intake with the focal point's token: intake lets no other role list,
read or act on a complaint, announces each read of a record, and refuses a step its state
or the survivor's consent does not allow. The directory gives the organisations' names.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User
from mpa_console.app.directory import partner_names
from mpa_console.domain.psea import timeliness

COMPLAINTS = "/v1/psea/complaints"


async def complaints(platform: Platform, user: User) -> dict[str, Any]:
    """The newest complaints (no account, no survivor), each step's timeliness."""
    listed, partners = await asyncio.gather(
        platform.get(Service.INTAKE, COMPLAINTS, user.token), partner_names(platform, user)
    )
    now = datetime.now(UTC)
    items = [{**c, "steps": timeliness(c, now)} for c in listed["items"]]
    return {"complaints": items, "partners": partners}


async def partners(platform: Platform, user: User) -> dict[str, str]:
    """The directory's organisations, for naming the implicated one."""
    return await partner_names(platform, user)


async def file_complaint(platform: Platform, user: User, body: dict[str, Any]) -> str:
    """Files the complaint; its id (the record is the focal point's from now on)."""
    receipt = await platform.post(Service.INTAKE, COMPLAINTS, user.token, body)
    return str(receipt["complaint_id"])


async def complaint_page(platform: Platform, user: User, complaint_id: str) -> dict[str, Any]:
    """The restricted record with its account and survivor: a read intake announces."""
    complaint, names = await asyncio.gather(
        platform.get(Service.INTAKE, f"{COMPLAINTS}/{complaint_id}", user.token),
        partner_names(platform, user),
    )
    return {
        "complaint": complaint,
        "steps": timeliness(complaint, datetime.now(UTC)),
        "partners": names,
    }


async def step(
    platform: Platform, user: User, complaint_id: str, path: str, body: dict[str, Any]
) -> Any:
    """One step on the complaint (`path` under /v1/psea/complaints/{complaint_id})."""
    return await platform.post(
        Service.INTAKE, f"{COMPLAINTS}/{complaint_id}{path}", user.token, body
    )
