"""The cross-border screens' use cases (issue 17): a case's transfer consents and hand-offs,
the steps on them, and the hand-offs awaiting the user's country office.

Everything goes to intake with the signed-in user's token: intake decides who may do what
(the responsible office asks and records departure, only the receiving country office
accepts, declines and records arrival) and refuses what the rules forbid.
"""

from __future__ import annotations

from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User


async def cross_border_page(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """The case's transfer consents and hand-offs (codes and dates: no personal data)."""
    view: dict[str, Any] = await platform.get(
        Service.INTAKE, f"/v1/cases/{case_id}/cross-border", user.token
    )
    open_handoffs = [h for h in view["handoffs"] if h["state"] in OPEN_STATES]
    return {
        "view": view,
        "open_handoff": open_handoffs[0] if open_handoffs else None,
        "user_country": user.country,
    }


OPEN_STATES = ("requested", "accepted", "departed")


async def step(
    platform: Platform, user: User, case_id: str, path: str, body: dict[str, Any] | None
) -> Any:
    """One cross-border step on the case (`path` under /v1/cases/{case_id})."""
    return await platform.post(Service.INTAKE, f"/v1/cases/{case_id}{path}", user.token, body)


async def inbox(platform: Platform, user: User) -> dict[str, Any]:
    """Hand-offs awaiting the decision of the user's country office."""
    pending = await platform.get(Service.INTAKE, "/v1/handoffs", user.token)
    return {"handoffs": pending["items"]}
