"""HTTP route of safe contact (issue 17): parse, authorise, call one use case."""

from typing import Annotated

from fastapi import APIRouter, Depends

from mpa_common.auth import Role
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import safe_contact
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.safe_contact import ContactCheck, ContactCheckResult

ContactChecker = Annotated[
    Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR))
]


def safe_contact_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["safe contact"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.post(
        "/contact-checks",
        summary="Ask the person's safety profile before contacting them",
        description="Staff of the case (your read scope) ask before they call, write or "
        "visit. The answer says whether the contact is allowed and repeats the profile (no "
        "contact; the safe channel; safe times; voicemail). A refused contact is announced "
        "as `org.mpa.access.contact_withheld.v1` with the channel and the reason.",
        responses=problem_responses(403, 404, 422),
    )
    async def check_contact(
        case_id: CaseIdPath, body: ContactCheck, ctx: Context, actor: ContactChecker
    ) -> ContactCheckResult:
        return await safe_contact.check_contact(ctx, actor, case_id, body)

    return router
