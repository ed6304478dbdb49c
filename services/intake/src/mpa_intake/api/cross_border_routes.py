"""HTTP routes of cross-border work (issue 17): parse, authorise, call one use case.

Under `/v1/cases/{case_id}/…` for one case's transfer consents and hand-offs;
`/v1/handoffs` (what awaits the caller's country office's decision) outside it. Nothing
here is personal data (codes, country codes, dates): no read is an access event.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, status

from mpa_common.auth import Role
from mpa_intake.api.errors import problem_responses
from mpa_intake.api.routes import CaseIdPath, acting_as
from mpa_intake.app import cross_border
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.cross_border import (
    CancelHandoff,
    CrossBorderView,
    DeclineHandoff,
    HandoffList,
    HandoffView,
    RecordArrival,
    RecordDeparture,
    RecordTransferConsent,
    RequestHandoff,
    TransferConsentView,
    WithdrawTransferConsent,
)

# The roles of the casework, as transfers of responsibility: the receiving side is any of
# them in the receiving country office (the hand-off checks the country).
CaseStaff = Annotated[Actor, Depends(acting_as(Role.CASEWORKER, Role.OPERATOR, Role.SUPERVISOR))]
ConsentIdPath = Annotated[
    UUID,
    Path(
        description="Id of the transfer consent", examples=["0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"]
    ),
]
HandoffIdPath = Annotated[
    UUID,
    Path(description="Id of the hand-off", examples=["1c2d3e4f-5a6b-4c7d-9e8f-0a1b2c3d4e5f"]),
]
_WRITE = problem_responses(403, 404, 409, 410, 422)


def cross_border_router(intake: IntakeContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case_id}", tags=["cross-border"])
    outside = APIRouter(prefix="/v1", tags=["cross-border"])

    async def context() -> IntakeContext:
        return intake

    Context = Annotated[IntakeContext, Depends(context)]

    @router.get(
        "/cross-border",
        summary="The case's transfer consents and hand-offs",
        description="Within your read scope, or for the receiving country office of one of "
        "its hand-offs. Also the assistance countries of its needs that no transfer consent "
        "in force names (their referrals wait: `awaiting_transfer_consent`). Codes and dates "
        "only.",
        responses=problem_responses(403, 404, 422),
    )
    async def read_cross_border(
        case_id: CaseIdPath, ctx: Context, actor: CaseStaff
    ) -> CrossBorderView:
        return await cross_border.read_cross_border(ctx, actor, case_id)

    @router.post(
        "/transfer-consents",
        status_code=status.HTTP_201_CREATED,
        summary="Record the person's consent to the transfer of their data abroad",
        description="Names the destination countries (ISO 3166-1 alpha-2). A transnational "
        "referral — its assistance country is not the country the person is in — is neither "
        "routed nor disclosed to a partner there without one in force; it waits and is "
        "routed when this is recorded. Within your write scope; "
        "`org.mpa.case.transfer_consent_recorded.v1`.",
        responses=_WRITE,
    )
    async def record_transfer_consent(
        case_id: CaseIdPath, body: RecordTransferConsent, ctx: Context, actor: CaseStaff
    ) -> TransferConsentView:
        return await cross_border.record_transfer_consent(ctx, actor, case_id, body)

    @router.post(
        "/transfer-consents/{transfer_consent_id}/withdraw",
        summary="Withdraw a transfer consent, for some or all of its countries",
        description="Partners there lose access at once; open referrals there are cancelled "
        "(`transfer_consent_withdrawn`). Allowed on closed cases too. "
        "`org.mpa.case.transfer_consent_withdrawn.v1`.",
        responses=_WRITE,
    )
    async def withdraw_transfer_consent(
        case_id: CaseIdPath,
        transfer_consent_id: ConsentIdPath,
        ctx: Context,
        actor: CaseStaff,
        body: Annotated[WithdrawTransferConsent | None, Body()] = None,
    ) -> TransferConsentView:
        return await cross_border.withdraw_transfer_consent(
            ctx, actor, case_id, transfer_consent_id, body or WithdrawTransferConsent()
        )

    @router.post(
        "/handoffs",
        status_code=status.HTTP_201_CREATED,
        summary="Ask another country office to take responsibility before the person travels",
        description="The office responsible (your write scope) asks; a transfer consent in "
        "force must name the receiving country. One hand-off, and no other transfer, at a "
        "time. `org.mpa.case.handoff_requested.v1`.",
        responses=_WRITE,
    )
    async def request_handoff(
        case_id: CaseIdPath, body: RequestHandoff, ctx: Context, actor: CaseStaff
    ) -> HandoffView:
        return await cross_border.request_handoff(ctx, actor, case_id, body)

    @router.post(
        "/handoffs/{handoff_id}/accept",
        summary="Accept responsibility (the receiving country office)",
        description="Only staff of the receiving country office. You own the case once the "
        "person arrives. `org.mpa.case.handoff_accepted.v1`.",
        responses=_WRITE,
    )
    async def accept_handoff(
        case_id: CaseIdPath, handoff_id: HandoffIdPath, ctx: Context, actor: CaseStaff
    ) -> HandoffView:
        return await cross_border.accept_handoff(ctx, actor, case_id, handoff_id)

    @router.post(
        "/handoffs/{handoff_id}/decline",
        summary="Decline a hand-off (the receiving country office)",
        responses=_WRITE,
    )
    async def decline_handoff(
        case_id: CaseIdPath,
        handoff_id: HandoffIdPath,
        body: DeclineHandoff,
        ctx: Context,
        actor: CaseStaff,
    ) -> HandoffView:
        return await cross_border.decline_handoff(ctx, actor, case_id, handoff_id, body)

    @router.post(
        "/handoffs/{handoff_id}/cancel",
        summary="Withdraw a hand-off before travel (the sending office)",
        responses=_WRITE,
    )
    async def cancel_handoff(
        case_id: CaseIdPath,
        handoff_id: HandoffIdPath,
        body: CancelHandoff,
        ctx: Context,
        actor: CaseStaff,
    ) -> HandoffView:
        return await cross_border.cancel_handoff(ctx, actor, case_id, handoff_id, body)

    @router.post(
        "/handoffs/{handoff_id}/departure",
        summary="Record the person's departure (the sending office, after acceptance)",
        description="Refused (409) until the receiving office accepted responsibility. "
        "`org.mpa.case.handoff_departed.v1`.",
        responses=_WRITE,
    )
    async def record_departure(
        case_id: CaseIdPath,
        handoff_id: HandoffIdPath,
        body: RecordDeparture,
        ctx: Context,
        actor: CaseStaff,
    ) -> HandoffView:
        return await cross_border.record_departure(ctx, actor, case_id, handoff_id, body)

    @router.post(
        "/handoffs/{handoff_id}/arrival",
        summary="Record the person's arrival (the receiving country office)",
        description="Closes the loop: the hand-off ends and the case moves to whoever "
        "accepted responsibility, through a transfer of responsibility "
        "(`transfer_requested.v1` and `transfer_accepted.v1`); the case's location becomes "
        "the receiving country (`updated.v1`); `org.mpa.case.handoff_arrived.v1`.",
        responses=_WRITE,
    )
    async def record_arrival(
        case_id: CaseIdPath,
        handoff_id: HandoffIdPath,
        body: RecordArrival,
        ctx: Context,
        actor: CaseStaff,
    ) -> HandoffView:
        return await cross_border.record_arrival(ctx, actor, case_id, handoff_id, body)

    @outside.get(
        "/handoffs",
        summary="Hand-offs awaiting your country office's decision",
        responses=problem_responses(403, 422),
    )
    async def pending_handoffs(ctx: Context, actor: CaseStaff) -> HandoffList:
        return await cross_border.pending_handoffs(ctx, actor)

    both = APIRouter()
    both.include_router(router)
    both.include_router(outside)
    return both
