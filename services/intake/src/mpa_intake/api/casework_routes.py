"""HTTP routes of the casework (issue 16): parse, authorise, call one use case.

Under `/v1/cases/{case_id}/…` for the work on one case; `/v1/transfers` (what awaits the
caller's decision) and `/v1/reports/casework` outside it.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, status

from mpa_common.auth import Role
from mpa_common.request_types import DateTime
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import casework
from mpa_intake.app.casework_commands import (
    ChangeIntervention,
    DecideApproval,
    PlanIntervention,
    RecordAssessment,
    RecordFollowUpDone,
    ReopenCase,
    RequestApproval,
    RequestTransfer,
    ScheduleFollowUp,
    TransferStep,
)
from mpa_intake.app.casework_views import (
    ApprovalList,
    ApprovalView,
    AssessmentView,
    CaseworkReport,
    CaseworkView,
    FollowUpView,
    InterventionView,
    TransferList,
    TransferView,
)
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.views import CaseSummary

CaseworkActor = Annotated[
    Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR))
]
Supervisor = Annotated[Actor, Depends(acting_as(Role.SUPERVISOR))]
ReportViewer = Annotated[
    Actor,
    Depends(acting_as(Role.SUPERVISOR, Role.CASEWORKER, Role.OPERATOR, Role.AUDITOR, Role.ADMIN)),
]
TransferIdPath = Annotated[
    UUID, Path(description="Id of the transfer", examples=["0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"])
]
InterventionIdPath = Annotated[
    UUID,
    Path(description="Id of the intervention", examples=["0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"]),
]
FollowUpIdPath = Annotated[
    UUID, Path(description="Id of the follow-up", examples=["0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"])
]
ApprovalIdPath = Annotated[
    UUID,
    Path(
        description="Id of the approval request", examples=["0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"]
    ),
]
_WRITE = problem_responses(403, 404, 409, 410, 422)


def casework_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["casework"])
    outside = APIRouter(prefix="/v1", tags=["casework"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]
    OptionalStep = Annotated[TransferStep | None, Body(description="An optional note")]

    @router.get(
        "/casework",
        summary="The casework of a case, with its notes",
        description="Owner, risk level, transfers, assessments, the case plan, follow-ups, "
        "approvals and the referrals' progress, within your read scope. Notes are personal "
        "data: when any is shown the read is announced as "
        "`org.mpa.access.personal_data_accessed.v1` (field `casework.note`).",
        responses=problem_responses(403, 404, 422),
    )
    async def read_casework(
        case_id: CaseIdPath, ctx: Context, actor: CaseworkActor
    ) -> CaseworkView:
        return await casework.read_casework(ctx, actor, case_id)

    @router.post(
        "/transfers",
        status_code=status.HTTP_201_CREATED,
        summary="Ask for a transfer of responsibility",
        description="`sender`: the owning side (your write scope) hands the case to another "
        "caseworker, team or office, which accepts or rejects it. `receiver`: your office "
        "asks to take the case (you become its owner), and the owning side decides. One "
        "transfer at a time; `org.mpa.case.transfer_requested.v1`.",
        responses=_WRITE,
    )
    async def request_transfer(
        case_id: CaseIdPath, body: RequestTransfer, ctx: Context, actor: CaseworkActor
    ) -> TransferView:
        return await casework.request_transfer(ctx, actor, case_id, body)

    @router.post(
        "/transfers/{transfer_id}/accept",
        summary="Accept a transfer (the deciding side)",
        description="Ownership moves; the previous owner keeps access only where so "
        "configured (`INTAKE_TRANSFER_SENDER_KEEPS_ACCESS`).",
        responses=_WRITE,
    )
    async def accept_transfer(
        case_id: CaseIdPath,
        transfer_id: TransferIdPath,
        ctx: Context,
        actor: CaseworkActor,
        body: OptionalStep = None,
    ) -> TransferView:
        return await casework.accept_transfer(
            ctx, actor, case_id, transfer_id, body or TransferStep()
        )

    @router.post(
        "/transfers/{transfer_id}/reject",
        summary="Reject a transfer (the deciding side)",
        responses=_WRITE,
    )
    async def reject_transfer(
        case_id: CaseIdPath,
        transfer_id: TransferIdPath,
        ctx: Context,
        actor: CaseworkActor,
        body: OptionalStep = None,
    ) -> TransferView:
        return await casework.reject_transfer(
            ctx, actor, case_id, transfer_id, body or TransferStep()
        )

    @router.post(
        "/transfers/{transfer_id}/revoke",
        summary="Withdraw a transfer you asked for",
        responses=_WRITE,
    )
    async def revoke_transfer(
        case_id: CaseIdPath,
        transfer_id: TransferIdPath,
        ctx: Context,
        actor: CaseworkActor,
        body: OptionalStep = None,
    ) -> TransferView:
        return await casework.revoke_transfer(
            ctx, actor, case_id, transfer_id, body or TransferStep()
        )

    @router.post(
        "/assessments",
        status_code=status.HTTP_201_CREATED,
        summary="Record an assessment",
        description="Dated, by you, with a risk level and protection concerns. The latest "
        "assessment's risk level becomes the case's; `org.mpa.case.assessed.v1` carries it "
        "for routing.",
        responses=_WRITE,
    )
    async def record_assessment(
        case_id: CaseIdPath, body: RecordAssessment, ctx: Context, actor: CaseworkActor
    ) -> AssessmentView:
        return await casework.record_assessment(ctx, actor, case_id, body)

    @router.post(
        "/interventions",
        status_code=status.HTTP_201_CREATED,
        summary="Add an intervention to the case plan",
        responses=_WRITE,
    )
    async def plan_intervention(
        case_id: CaseIdPath, body: PlanIntervention, ctx: Context, actor: CaseworkActor
    ) -> InterventionView:
        return await casework.plan_intervention(ctx, actor, case_id, body)

    @router.patch(
        "/interventions/{intervention_id}",
        summary="Change an intervention's status, responsible person or target date",
        responses=_WRITE,
    )
    async def change_intervention(
        case_id: CaseIdPath,
        intervention_id: InterventionIdPath,
        body: ChangeIntervention,
        ctx: Context,
        actor: CaseworkActor,
    ) -> InterventionView:
        return await casework.change_intervention(ctx, actor, case_id, intervention_id, body)

    @router.post(
        "/follow-ups",
        status_code=status.HTTP_201_CREATED,
        summary="Schedule a follow-up",
        description="With a durable timer: if it is not done by `due_at`, the case's owner "
        "is told once (`org.mpa.case.follow_up_overdue.v1`), also across restarts.",
        responses=_WRITE,
    )
    async def schedule_follow_up(
        case_id: CaseIdPath, body: ScheduleFollowUp, ctx: Context, actor: CaseworkActor
    ) -> FollowUpView:
        return await casework.schedule_follow_up(ctx, actor, case_id, body)

    @router.post(
        "/follow-ups/{follow_up_id}/done",
        summary="Record that a follow-up was done, and its outcome",
        responses=_WRITE,
    )
    async def follow_up_done(
        case_id: CaseIdPath,
        follow_up_id: FollowUpIdPath,
        body: RecordFollowUpDone,
        ctx: Context,
        actor: CaseworkActor,
    ) -> FollowUpView:
        return await casework.record_follow_up_done(ctx, actor, case_id, follow_up_id, body)

    @router.post(
        "/approvals",
        status_code=status.HTTP_201_CREATED,
        summary="Ask a supervisor to approve the case plan or the closure",
        responses=_WRITE,
    )
    async def request_approval(
        case_id: CaseIdPath, body: RequestApproval, ctx: Context, actor: CaseworkActor
    ) -> ApprovalView:
        return await casework.request_approval(ctx, actor, case_id, body)

    @router.post(
        "/approvals/{approval_id}/decision",
        summary="Approve or reject (supervisors; never your own request)",
        responses=_WRITE,
    )
    async def decide_approval(
        case_id: CaseIdPath,
        approval_id: ApprovalIdPath,
        body: DecideApproval,
        ctx: Context,
        actor: Supervisor,
    ) -> ApprovalView:
        return await casework.decide_approval(ctx, actor, case_id, approval_id, body)

    @router.post(
        "/reopen",
        summary="Reopen a closed case",
        description="Its own recorded step: `org.mpa.case.reopened.v1` with the reason.",
        responses=_WRITE,
    )
    async def reopen(
        case_id: CaseIdPath, body: ReopenCase, ctx: Context, actor: CaseworkActor
    ) -> CaseSummary:
        return await casework.reopen_case(ctx, actor, case_id, body)

    @outside.get(
        "/transfers",
        summary="Transfers awaiting your decision",
        description="Handovers to you or your team, and requests from other offices for "
        "cases within your write scope.",
        responses=problem_responses(403),
    )
    async def pending_transfers(ctx: Context, actor: CaseworkActor) -> TransferList:
        return await casework.pending_transfers(ctx, actor)

    @outside.get(
        "/approvals",
        summary="Approval requests awaiting your decision (supervisors)",
        description="Requests of cases within your write scope, asked by someone else; "
        "empty for other roles.",
        responses=problem_responses(403),
    )
    async def pending_approvals(ctx: Context, actor: CaseworkActor) -> ApprovalList:
        return await casework.pending_approvals(ctx, actor)

    @outside.get(
        "/reports/casework",
        summary="Casework report over the cases within your read scope",
        description="Time to first contact, registration to first service started, "
        "completion rate, caseload per caseworker and team, overdue follow-ups; no "
        "personal data.",
        responses=problem_responses(403, 422),
    )
    async def report(
        ctx: Context,
        actor: ReportViewer,
        registered_from: Annotated[
            DateTime | None,
            Query(description="Cases registered at or after", examples=["2026-03-01T00:00:00Z"]),
        ] = None,
        registered_before: Annotated[
            DateTime | None,
            Query(description="Cases registered before", examples=["2026-04-01T00:00:00Z"]),
        ] = None,
    ) -> CaseworkReport:
        return await casework.casework_report(ctx, actor, registered_from, registered_before)

    both = APIRouter()
    both.include_router(router)
    both.include_router(outside)
    return both
