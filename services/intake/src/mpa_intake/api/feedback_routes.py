"""HTTP routes of the person's voice (issue 17): parse, authorise, call one use case.

Staff record feedback or ask for a one-time link; the person answers the link without an
account (the token in the path is the only credential, redacted from logs and traces by
mpa_common.logging.redacted_path)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, status

from mpa_common.auth import Role
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import feedback, feedback_invitations
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.feedback import FeedbackAnswer, FeedbackRecorded, RecordFeedback
from mpa_intake.app.feedback_invitations import (
    FeedbackInvitationCreated,
    FeedbackQuestion,
    InviteFeedback,
)

Collector = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR))]
TokenPath = Annotated[
    str,
    Path(
        max_length=128,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The invitation's one-time token, as handed on",
        examples=["q3Jx0c8b2n5T-yW1aLk9vZp4Rm7sUe6hDgFiCoBtN0E"],
    ),
]


def _public_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Problem answers of a route that takes no bearer token (so never 401)."""
    responses = problem_responses(*statuses)
    responses.pop(401)
    responses[404] = {**responses[404], "description": "No open invitation has this token"}
    return responses


def feedback_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(tags=["feedback"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.post(
        "/v1/cases/{case_id}/feedback",
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

    @router.post(
        "/v1/cases/{case_id}/feedback-invitations",
        status_code=status.HTTP_201_CREATED,
        summary="Create a one-time link for the person to give their feedback",
        description="For a referral a partner accepted (your write scope), to be passed on "
        "through `channel`: the person's safety profile is applied now (no contact, channel "
        "not safe; a child is never contacted directly) and a refusal is a 409 with its "
        "`reason` and `org.mpa.access.contact_withheld.v1`. The token is in this answer "
        "only, valid 14 days, for one answer. `org.mpa.case.feedback_invited.v1`.",
        responses=problem_responses(403, 404, 409, 422),
    )
    async def invite_feedback(
        case_id: CaseIdPath, body: InviteFeedback, ctx: Context, actor: Collector
    ) -> FeedbackInvitationCreated:
        return await feedback_invitations.invite_feedback(ctx, actor, case_id, body)

    @router.get(
        "/v1/feedback-invitations/{token}",
        summary="What a feedback link asks about (no sign-in)",
        description="The kind of service only, nothing about the person. An unknown, used "
        "or expired token is the same 404.",
        responses=_public_responses(404, 422),
    )
    async def feedback_question(token: TokenPath, ctx: Context) -> FeedbackQuestion:
        return await feedback_invitations.question_of(ctx, token)

    @router.post(
        "/v1/feedback-invitations/{token}",
        status_code=status.HTTP_201_CREATED,
        summary="The person's own feedback, through a one-time link (no sign-in)",
        description="The same codes as staff feedback, about the link's referral; "
        "anonymous to the provider by default. Recorded as "
        "`org.mpa.case.service_feedback_recorded.v1` with `collected_via: invitation`; the "
        "link is then spent. An unknown, used or expired token is the same 404.",
        responses=_public_responses(404, 409, 422),
    )
    async def answer_invitation(
        token: TokenPath, body: FeedbackAnswer, ctx: Context
    ) -> FeedbackRecorded:
        return await feedback_invitations.answer_invitation(ctx, token, body)

    return router
