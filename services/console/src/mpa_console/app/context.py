"""Who every screen's use case acts for: the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass


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
