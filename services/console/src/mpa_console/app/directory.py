"""Use cases over the partner and service directory (referral service)."""

from __future__ import annotations

from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User


async def partner_names(platform: Platform, user: User) -> dict[str, str]:
    """Partner id -> name, for screens that show ids of partners."""
    partners = await platform.get(Service.REFERRAL, "/v1/partners", user.token)
    return {p["id"]: p["name"] for p in partners}


async def service_names(platform: Platform, user: User, country: str | None) -> dict[str, str]:
    services = await platform.get(Service.REFERRAL, "/v1/services", user.token, country=country)
    return {s["id"]: s["name"] for s in services}


async def directory(platform: Platform, user: User, country: str | None) -> dict[str, Any]:
    """Partners with their services and capacity, in one country or all."""
    partners = await platform.get(Service.REFERRAL, "/v1/partners", user.token, country=country)
    services = await platform.get(
        Service.REFERRAL, "/v1/services", user.token, country=country, limit=500
    )
    by_partner: dict[str, list[dict[str, Any]]] = {}
    for service in services:
        by_partner.setdefault(service["partner_id"], []).append(service)
    for entries in by_partner.values():
        entries.sort(key=lambda s: (s["category"], s["name"]))
    return {
        "partners": sorted(partners, key=lambda p: (p["countries"], p["name"])),
        "services": by_partner,
    }
