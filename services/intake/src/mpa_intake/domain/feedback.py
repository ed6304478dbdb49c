"""A one-time feedback link (issue 17): the person answers on their own, once, in time.

The token is never kept: the record's id is derived from the token's SHA-256, so only who
holds the token finds the record."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from mpa_contracts.vocabularies import SafeContactMethod
from mpa_intake.domain.casework import CaseworkRecord


class FeedbackInvitation(CaseworkRecord):
    """A one-time feedback link for one referral (`record_id` is derived from the token's
    hash: the token itself is kept nowhere)."""

    kind: ClassVar[str] = "feedback_invitation"

    invitation_id: UUID
    referral_id: UUID
    channel: SafeContactMethod
    expires_at: datetime
    used_at: datetime | None = None

    @property
    def state(self) -> str:
        return "used" if self.used_at is not None else "open"

    def open_at(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


def record_id_of(token: str) -> UUID:
    """Where the invitation of `token` is kept: the first 128 bits of its SHA-256."""
    return UUID(bytes=hashlib.sha256(token.encode()).digest()[:16])
