"""HTTP route of the person's voice (issue 17): parse, authorise, call one use case."""

from typing import Annotated

from fastapi import APIRouter, Depends, status

from mpa_common.auth import Role
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import feedback
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.feedback import FeedbackRecorded, RecordFeedback

Collector = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR))]


def feedback_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["feedback"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.post(
        "/feedback",
        status_code=status.HTTP_201_CREATED,
        summary="Record the person's feedback on a referral's service",
        description="Collected by the case's staff (your write scope), for a referral a "
        "partner accepted: whether the service was received, its quality, the waiting time, "
        "whether they felt safe; codes only. Anonymous to the provider unless the person "
        "chooses otherwise. `org.mpa.case.service_feedback_recorded.v1`; the referral "
        "service counts it in the partner's figures.",
        responses=problem_responses(403, 404, 409, 422),
    )
    async def record_feedback(
        case_id: CaseIdPath, body: RecordFeedback, ctx: Context, actor: Collector
    ) -> FeedbackRecorded:
        return await feedback.record_feedback(ctx, actor, case_id, body)

    return router
