"""The person's voice in a partner's figures (issue 17): parse, authorise, one use case."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from mpa_common.auth import Principal, Role, require_roles
from mpa_common.request_types import DateTime
from mpa_contracts.vocabularies import ServiceQuality, ServiceReceived, WaitingTime
from mpa_referral.api.deps import REFERRERS, Context
from mpa_referral.app.feedback import PartnerFeedbackQuery, partner_feedback
from mpa_referral.domain.errors import Forbidden
from mpa_referral.domain.feedback import ANONYMITY_FLOOR

router = APIRouter(prefix="/v1/partners", tags=["feedback"])

Viewer = Annotated[Principal, Depends(require_roles(*REFERRERS, Role.AUDITOR, Role.PARTNER))]


class FeedbackFiguresView(BaseModel):
    responses: int = Field(description="Answers counted here")
    received: dict[ServiceReceived, int] = Field(description="Whether the service was received")
    received_rate: float | None = Field(description="Received in full / answers")
    quality: dict[ServiceQuality, int] = Field(description="Ratings, five-point scale")
    quality_mean: float | None = Field(description="Mean rating, 1 (very poor) to 5 (very good)")
    waiting_time: dict[WaitingTime, int] = Field(description="How long people waited")
    felt_safe_rate: float | None = Field(description="Felt safe / those who said")
    anonymous_withheld: int = Field(
        description=f"The partner's own view: anonymous answers left out (fewer than "
        f"{ANONYMITY_FLOOR} in the period, so none can be told apart)"
    )


class FeedbackAnswerView(BaseModel):
    feedback_id: uuid.UUID
    referral_id: uuid.UUID
    service_id: uuid.UUID | None
    recorded_at: datetime
    received: ServiceReceived
    quality: ServiceQuality | None
    waiting_time: WaitingTime | None
    felt_safe: bool | None


class PartnerFeedbackView(BaseModel):
    partner_id: uuid.UUID
    figures: FeedbackFiguresView
    answers: list[FeedbackAnswerView] | None = Field(
        description="For the partner's own staff: the answers given openly, one by one "
        "(anonymous ones never); null for everyone else"
    )


@router.get(
    "/{partner_id}/feedback",
    summary="The person's feedback on a partner's services, as figures",
    description="Received, quality, waiting time, safety, from the feedback caseworkers "
    "record (`org.mpa.case.service_feedback_recorded.v1`). Referrers, supervisors, admins "
    "and auditors see the figures; a partner's staff see their own organisation's (another "
    "partner's: 404), with anonymous answers counted only from "
    f"{ANONYMITY_FLOOR} in the period up, and the answers given openly one by one.",
)
async def get_partner_feedback(
    partner_id: uuid.UUID,
    principal: Viewer,
    ctx: Context,
    since: Annotated[DateTime | None, Query(description="Recorded at or after, RFC 3339")] = None,
    until: Annotated[DateTime | None, Query(description="Recorded before, RFC 3339")] = None,
) -> PartnerFeedbackView:
    asking: uuid.UUID | None = None
    if not principal.has(*REFERRERS, Role.AUDITOR):
        if principal.partner_id is None:
            raise Forbidden("A partner token must name its partner (partner_id)")
        asking = principal.partner_id
    found = await partner_feedback(ctx, PartnerFeedbackQuery(partner_id, since, until, asking))
    return PartnerFeedbackView(
        partner_id=found.partner_id,
        figures=FeedbackFiguresView.model_validate(found.figures, from_attributes=True),
        answers=(
            None
            if found.answers is None
            else [FeedbackAnswerView.model_validate(a, from_attributes=True) for a in found.answers]
        ),
    )
