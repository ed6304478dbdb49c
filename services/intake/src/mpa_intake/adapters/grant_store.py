"""Partner access grants on PostgreSQL, fed by the referral service's events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

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
        values = {
            "case_id": case_id,
            "need_id": need_id,
            "partner_id": partner_id,
            "active": active,
            "last_event_type": event_type,
            "updated_at": at,
        }
        await self._session.execute(
            pg_insert(partner_access_grants)
            .values(referral_id=referral_id, **values)
            .on_conflict_do_update(
                index_elements=[partner_access_grants.c.referral_id], set_=values
            )
        )

    async def revoke(self, referral_id: UUID, *, event_type: str, at: datetime) -> None:
        await self._session.execute(
            update(partner_access_grants)
            .where(partner_access_grants.c.referral_id == referral_id)
            .values(active=False, last_event_type=event_type, updated_at=at)
        )
