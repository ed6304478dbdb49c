"""Partner access grants on PostgreSQL, fed by the referral service's events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_intake.adapters.prebuilt import Prebuilt, insert_values
from mpa_intake.adapters.tables import partner_access_grants
from mpa_intake.app.ports import Grant


class SqlGrantRepository:
    """`ports.GrantRepository` on PostgreSQL: which partner holds which accepted referral of
    a case, as referral events told."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_grants(self, case_id: UUID, partner_id: UUID) -> list[Grant]:
        rows = await self._session.execute(
            select(
                partner_access_grants.c.referral_id,
                partner_access_grants.c.need_id,
                partner_access_grants.c.partner_id,
            )
            .where(
                partner_access_grants.c.case_id == case_id,
                partner_access_grants.c.partner_id == partner_id,
                partner_access_grants.c.active.is_(True),
            )
            .order_by(partner_access_grants.c.updated_at)
        )
        return [Grant(row.referral_id, row.need_id, row.partner_id) for row in rows]

    async def set_grant(
        self,
        *,
        referral_id: UUID,
        case_id: UUID,
        need_id: UUID,
        partner_id: UUID,
        active: bool,
        event_type: str,
        at: datetime,
    ) -> None:
        await _SET_GRANT.execute(
            self._session,
            {
                "referral_id": referral_id,
                "case_id": case_id,
                "need_id": need_id,
                "partner_id": partner_id,
                "active": active,
                "last_event_type": event_type,
                "updated_at": at,
            },
        )

    async def revoke(self, referral_id: UUID, *, event_type: str, at: datetime) -> None:
        await _REVOKE.execute(
            self._session, {"referral_id": referral_id, "event_type": event_type, "at": at}
        )


# One statement per referral event (the access consumer's hot path), prebuilt.
_GRANT_COLUMNS = (
    "referral_id",
    "case_id",
    "need_id",
    "partner_id",
    "active",
    "last_event_type",
    "updated_at",
)
_SET_GRANT = Prebuilt(
    f"{insert_values('partner_access_grants', _GRANT_COLUMNS)} "
    "ON CONFLICT (referral_id) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in _GRANT_COLUMNS[1:])
)
_REVOKE = Prebuilt(
    "UPDATE partner_access_grants "
    "SET active = false, last_event_type = :event_type, updated_at = :at "
    "WHERE referral_id = :referral_id"
)
