"""What every screen's use case is handed: the platform's APIs and the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass

from mpa_console.adapters.platform import Platform


@dataclass(frozen=True)
class User:
    """The signed-in user, as the token the console forwards describes them."""

    token: str
    actor_id: str
    roles: tuple[str, ...]
    partner_id: str | None = None
    country: str | None = None

    def has(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


@dataclass(frozen=True)
class Screens:
    """The composition root builds one; web routes reach the use cases through it."""

    platform: Platform
