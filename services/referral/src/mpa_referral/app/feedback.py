"""The person's voice in the partner's figures (issue 17).

Intake announces each feedback on a referral's service; this service knows the partner and
service that delivered it (the referral's holder) and keeps it for that partner's figures:
`GET /v1/partners/{partner_id}/feedback` — oversight and referrers see the figures; the
partner's own staff see them as `domain.feedback.providers_view` allows, with the answers
given openly one by one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from mpa_contracts.events.feedback import ServiceFeedbackRecordedV1
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.ports import UnitOfWorkPort
from mpa_referral.domain.errors import NotFound
from mpa_referral.domain.feedback import Feedback, FeedbackFigures, figures_of, providers_view

# At most this many answers feed one partner's figures (the newest of the period).
FIGURES_LIMIT = 10_000


class UnknownReferral(Exception):
    """The feedback names a referral this service does not hold, or one no partner took."""


async def feedback_recorded(
    uow: UnitOfWorkPort, data: ServiceFeedbackRecordedV1, recorded_at: datetime
) -> Feedback:
    referral = await uow.referrals.get(data.referral_id)
    if referral is None or referral.case_id != data.case_id:
        raise UnknownReferral(f"no referral {data.referral_id} of case {data.case_id}")
    if referral.partner_id is None:
        raise UnknownReferral(f"referral {data.referral_id} has no partner")
    feedback = Feedback(
        feedback_id=data.feedback_id,
        referral_id=data.referral_id,
        partner_id=referral.partner_id,
        service_id=referral.service_id,
        recorded_at=recorded_at,
        received=data.received,
        quality=data.quality,
        waiting_time=data.waiting_time,
        felt_safe=data.felt_safe,
        anonymous=data.anonymous_to_provider,
    )
    await uow.feedback.add(feedback)
    return feedback


@dataclass(frozen=True, slots=True)
class PartnerFeedbackQuery:
    partner_id: uuid.UUID
    since: datetime | None
    until: datetime | None
    # The partner whose staff ask (they see only their own); None for everyone else.
    asking_partner_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class PartnerFeedback:
    partner_id: uuid.UUID
    figures: FeedbackFigures
    # The answers given openly, one by one: for the partner's own staff only.
    answers: list[Feedback] | None


async def partner_feedback(ctx: ReferralContext, query: PartnerFeedbackQuery) -> PartnerFeedback:
    if query.asking_partner_id is not None and query.asking_partner_id != query.partner_id:
        raise NotFound("No such partner")  # another partner's figures: as if none existed
    async with ctx.units_of_work() as uow:
        if await uow.directory.get_partner(query.partner_id) is None:
            raise NotFound("No such partner")
        entries = await uow.feedback.of_partner(
            query.partner_id, query.since, query.until, FIGURES_LIMIT
        )
    if query.asking_partner_id is not None:
        figures, answers = providers_view(entries)
        return PartnerFeedback(query.partner_id, figures, answers)
    return PartnerFeedback(query.partner_id, figures_of(entries), None)
