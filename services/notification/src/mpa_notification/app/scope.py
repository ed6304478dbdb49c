"""Whose data a caller may see: one partner's, or everything (administrators)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mpa_notification.domain.errors import Forbidden, InvalidRequest


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
                raise Forbidden("A partner manages only its own endpoints")
            return self.partner_id
        if requested is None:
            raise InvalidRequest(
                "partner_id is required for an administrator",
                field="body.partner_id",
                reason="required",
            )
        return requested
