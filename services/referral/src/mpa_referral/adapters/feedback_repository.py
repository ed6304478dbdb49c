"""The person's feedback on services on PostgreSQL (`ports.FeedbackRepository`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.vocabularies import ServiceQuality, ServiceReceived, WaitingTime
from mpa_referral.adapters.tables import service_feedback
from mpa_referral.domain.feedback import Feedback


class SqlFeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, feedback: Feedback) -> None:
        await self._session.execute(
            insert(service_feedback)
            .values(
                feedback_id=feedback.feedback_id,
                referral_id=feedback.referral_id,
                partner_id=feedback.partner_id,
                service_id=feedback.service_id,
                recorded_at=feedback.recorded_at,
                received=feedback.received.value,
                quality=feedback.quality.value if feedback.quality else None,
                waiting_time=feedback.waiting_time.value if feedback.waiting_time else None,
                felt_safe=feedback.felt_safe,
                anonymous=feedback.anonymous,
            )
            .on_conflict_do_nothing(index_elements=["feedback_id"])
        )

    async def of_partner(
        self, partner_id: uuid.UUID, since: datetime | None, until: datetime | None, limit: int
    ) -> list[Feedback]:
        query = select(service_feedback).where(service_feedback.c.partner_id == partner_id)
        if since is not None:
            query = query.where(service_feedback.c.recorded_at >= since)
        if until is not None:
            query = query.where(service_feedback.c.recorded_at < until)
        query = query.order_by(service_feedback.c.recorded_at.desc()).limit(limit)
        return [
            Feedback(
                feedback_id=row["feedback_id"],
                referral_id=row["referral_id"],
                partner_id=row["partner_id"],
                service_id=row["service_id"],
                recorded_at=row["recorded_at"],
                received=ServiceReceived(row["received"]),
                quality=ServiceQuality(row["quality"]) if row["quality"] else None,
                waiting_time=WaitingTime(row["waiting_time"]) if row["waiting_time"] else None,
                felt_safe=row["felt_safe"],
                anonymous=row["anonymous"],
            )
            for row in (await self._session.execute(query)).mappings()
        ]
