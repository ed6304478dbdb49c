"""Whose data a caller may see: one partner's, or everything (administrators)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mpa_common.problems import Problem


@dataclass(frozen=True)
class Scope:
    partner_id: uuid.UUID | None  # None: an administrator, who sees every partner's

    @property
    def is_admin(self) -> bool:
        return self.partner_id is None

    def partner_for_new(self, requested: uuid.UUID | None) -> uuid.UUID:
        """The partner a new resource belongs to: a partner's own, or the one an admin names."""
        if self.partner_id is not None:
            if requested is not None and requested != self.partner_id:
                raise Problem(403, "Forbidden", "A partner manages only its own endpoints")
            return self.partner_id
        if requested is None:
            raise Problem(
                422,
                "Invalid request",
                "partner_id is required for an administrator",
                extra={"errors": [{"field": "body.partner_id", "reason": "required"}]},
            )
        return requested


def not_found(what: str) -> Problem:
    # The same answer whether the resource is missing or another partner's: no probing.
    return Problem(404, "Not found", f"No such {what}")
