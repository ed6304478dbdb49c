"""HTTP routes of the PSEA channel (issue 17): parse, authorise, call one use case.

Filing is open to whoever receives a complaint; everything else — the list, the record,
each step — to the PSEA focal point alone: every other role, administrators and auditors
included, is refused before anything is looked up.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status

from mpa_common.auth import Role
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import acting_as
from mpa_intake.app import psea
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.psea import (
    ComplaintDetail,
    ComplaintList,
    ComplaintReceipt,
    ComplaintSummary,
    DecideAssistance,
    FileComplaint,
    RecordOutcome,
    ReferAllegation,
)

Filer = Annotated[
    Actor,
    Depends(
        acting_as(
            Role.PSEA_FOCAL_POINT, Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR, Role.PARTNER
        )
    ),
]
FocalPoint = Annotated[Actor, Depends(acting_as(Role.PSEA_FOCAL_POINT))]
ComplaintIdPath = Annotated[
    UUID,
    Path(description="Id of the complaint", examples=["5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716"]),
]
_STEP = problem_responses(403, 404, 409, 422)


def psea_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/psea/complaints", tags=["psea"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="File a complaint of sexual exploitation or abuse",
        description="Whoever receives a complaint files it; it is then the PSEA focal "
        "point's alone (the answer is its id, nothing more). The account and the survivor "
        "are sealed like a case's personal data. The clocks start: the survivor offered "
        "assistance and the allegation referred, each by its deadline "
        "(`org.mpa.psea.complaint_received.v1`).",
        responses=problem_responses(403, 422),
    )
    async def file_complaint(body: FileComplaint, ctx: Context, actor: Filer) -> ComplaintReceipt:
        return await psea.file_complaint(ctx, actor, body)

    @router.get(
        "",
        summary="The complaints (PSEA focal point)",
        description="The newest complaints without their accounts: steps, deadlines, what "
        "is overdue.",
        responses=problem_responses(403),
    )
    async def list_complaints(ctx: Context, actor: FocalPoint) -> ComplaintList:
        return await psea.list_complaints(ctx, actor)

    @router.get(
        "/{complaint_id}",
        summary="A complaint's restricted record (PSEA focal point)",
        description="With its account and survivor: an announced read "
        "(`org.mpa.psea.complaint_read.v1`, field names only).",
        responses=problem_responses(403, 404, 422),
    )
    async def read_complaint(
        complaint_id: ComplaintIdPath, ctx: Context, actor: FocalPoint
    ) -> ComplaintDetail:
        return await psea.read_complaint(ctx, actor, complaint_id)

    @router.post(
        "/{complaint_id}/assistance",
        summary="Refer the survivor through the GBV pathway, or record that they declined",
        description="`referred` needs the survivor's consent and their case: a "
        "`gbv_response` need is added to it (as the system's step, so the case's story does "
        "not name the PSEA channel) and routed like any need.",
        responses=_STEP,
    )
    async def decide_assistance(
        complaint_id: ComplaintIdPath, body: DecideAssistance, ctx: Context, actor: FocalPoint
    ) -> ComplaintSummary:
        return await psea.decide_assistance(ctx, actor, complaint_id, body)

    @router.post(
        "/{complaint_id}/allegation-referral",
        summary="Refer the allegation to the implicated organisation",
        description="Its investigation focal point is e-mailed (registry kind "
        "`investigation_focal_point`) with the complaint's id, the allegation type and "
        "whether the survivor consented to their identity being shared; never the account "
        "or the survivor. The investigation's clock starts.",
        responses=_STEP,
    )
    async def refer_allegation(
        complaint_id: ComplaintIdPath, body: ReferAllegation, ctx: Context, actor: FocalPoint
    ) -> ComplaintSummary:
        return await psea.refer_allegation(ctx, actor, complaint_id, body)

    @router.post(
        "/{complaint_id}/outcome",
        summary="Record the investigation's outcome",
        description="A substantiated allegation may suspend the organisation from the "
        "directory (`suspend_partner`): the referral service deactivates it as suspended, "
        "which only an administrator lifts.",
        responses=_STEP,
    )
    async def record_outcome(
        complaint_id: ComplaintIdPath, body: RecordOutcome, ctx: Context, actor: FocalPoint
    ) -> ComplaintSummary:
        return await psea.record_outcome(ctx, actor, complaint_id, body)

    return router
