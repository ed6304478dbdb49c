"""The partner's use cases: the inbox, acting on a referral, the case details it allows,
webhook endpoints and the delivery log.

A partner's token names its partner, so the referral service shows it only its own
referrals (another partner's answers 404) and intake discloses only what an accepted
referral needs — recording each such read as an access event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User
from mpa_console.domain.referrals import OPEN_FOR_PARTNER, inbox_order


async def inbox(platform: Platform, user: User, *, show_all: bool) -> list[dict[str, Any]]:
    page = await platform.get(Service.REFERRAL, "/v1/referrals", user.token, limit=200)
    items: list[dict[str, Any]] = page["items"]
    if not show_all:
        items = [r for r in items if r["state"] in OPEN_FOR_PARTNER]
    return inbox_order(items, datetime.now(UTC))


async def referral(platform: Platform, user: User, referral_id: str) -> dict[str, Any]:
    """The referral, if it is this partner's (the referral service answers 404 otherwise)."""
    found: dict[str, Any] = await platform.get(
        Service.REFERRAL, f"/v1/referrals/{referral_id}", user.token
    )
    return found


async def act(
    platform: Platform, user: User, referral_id: str, action: str, body: dict[str, Any]
) -> None:
    await platform.post(
        Service.REFERRAL, f"/v1/referrals/{referral_id}/{action}", user.token, body or None
    )


async def case_details(platform: Platform, user: User, referral_id: str) -> dict[str, Any]:
    """What the case discloses to this partner for this referral: an audited read."""
    held = await referral(platform, user, referral_id)
    case = await platform.get(
        Service.INTAKE,
        f"/v1/cases/{held['case_id']}",
        user.token,
        purpose="service_delivery",
    )
    return {"referral": held, "case": case}


async def endpoints(platform: Platform, user: User) -> dict[str, Any]:
    found = await platform.get(Service.NOTIFICATION, "/v1/endpoints", user.token)
    event_types = await platform.get(Service.NOTIFICATION, "/v1/event-types", user.token)
    return {"endpoints": found, "event_types": event_types}


async def create_endpoint(
    platform: Platform, user: User, url: str, description: str, event_types: list[str]
) -> dict[str, Any]:
    created: dict[str, Any] = await platform.post(
        Service.NOTIFICATION,
        "/v1/endpoints",
        user.token,
        {"url": url, "description": description, "event_types": event_types},
    )
    return created


async def endpoint_action(
    platform: Platform, user: User, endpoint_id: str, action: str
) -> dict[str, Any] | None:
    """delete, rotate-secret or test; rotating answers the new secret (shown once)."""
    path = f"/v1/endpoints/{endpoint_id}"
    if action == "delete":
        await platform.call(Service.NOTIFICATION, "DELETE", path, user.token)
        return None
    result: dict[str, Any] = await platform.post(
        Service.NOTIFICATION, f"{path}/{action}", user.token
    )
    return result


async def deliveries(
    platform: Platform, user: User, *, state: str | None, cursor: str | None
) -> dict[str, Any]:
    page: dict[str, Any] = await platform.get(
        Service.NOTIFICATION, "/v1/deliveries", user.token, state=state, cursor=cursor, limit=50
    )
    return page


async def delivery(platform: Platform, user: User, delivery_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await platform.get(
        Service.NOTIFICATION, f"/v1/deliveries/{delivery_id}", user.token
    )
    return found
